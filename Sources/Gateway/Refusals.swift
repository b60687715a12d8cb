import Cache
import HTTP
import Studio

/// Accounting for answers given without a forwardable request, so every answer the gateway sends
/// has an access-log line and a `studiogate_requests_total` sample:
/// - 401/405 refusals are counted under the route they matched (`v2_execution`…), not `unmatched`;
/// - requests that could not be read (400/408/413/414/431 from the connection) are counted under
///   `route="unmatched"`, logged with method and path "-", and counted as a cache bypass.
extension Gateway {
    /// The route a refused request matched: 401 and 405 are decided after routing.
    func refusedRoute(_ request: HTTPRequest, status: Int) -> RouteLabel {
        guard status == 401 || status == 405,
            case .success(let target) = RequestTarget.parse(request.target, ownAuthorities: ownAuthorities),
            case .route(let route) = StudioRouter.match(path: target.path)
        else { return .unmatched }
        return RouteLabel(route)
    }

    /// Called once per unreadable request, as the connection asks for its answer.
    func recordUnreadable(_ response: HTTPResponse) -> HTTPResponse {
        CacheCounters.increment(counters.bypass)
        metrics.record(route: .unmatched, status: response.status, cache: "BYPASS", seconds: nil)
        if logger.enabled(.info) {
            logger.access(
                Logger.Access(
                    method: "-", path: "-", status: response.status, bytes: response.body.count, durationMs: 0,
                    cache: "BYPASS", upstreamStatus: nil, requestID: nil))
        }
        return response
    }
}
