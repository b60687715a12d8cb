import HTTP
import Studio

/// Answers leave through here: counted, logged, sent.
extension Gateway {
    /// One request on its way through: what the access log and metrics need when it is answered.
    struct Exchange: Sendable {
        var method: HTTPMethod
        var target: String
        var started: Double
        var client: any ClientChannel
        /// The set of the loop the request arrived on.
        var counters: LoopCounters
        var route = RouteLabel.unmatched
        /// Trace id and caller for the access log; nil when access lines are not written.
        var identity: AccessIdentity? = nil

        /// The path only: query strings never reach logs. (Cut when needed, not per request.)
        var path: Substring { HTTPRequest.split(target).path }
    }

    /// Every answer leaves through here: counted, logged, sent.
    func finish(_ exchange: Exchange, _ response: HTTPResponse, _ outcome: CacheOutcome?, upstreamStatus: Int? = nil) {
        let seconds = clock() - exchange.started
        telemetry.record(
            route: exchange.route, status: response.status, cache: outcome, seconds: seconds, in: exchange.counters)
        if logger.enabled(.info) {
            logger.access(
                Logger.Access(
                    method: exchange.method.rawValue, path: String(exchange.path), status: response.status.code,
                    bytes: response.body.count, durationMs: seconds * 1000, cache: outcome?.label ?? "-",
                    upstreamStatus: upstreamStatus,
                    requestID: response.headers["Twilio-Request-Id"] ?? response.inlineField?.value
                        ?? response.rendered.0.value("Twilio-Request-Id"), identity: exchange.identity))
        }
        exchange.counters.add(.inFlight, -1)
        exchange.client.respond(response)
    }

    /// What the access log and metrics record for a client that left before its answer (nginx's
    /// 499); the connection is gone, so nobody reads it.
    static let clientClosedRequest = HTTPResponse(
        status: 499, headers: ["X-Cache": CacheOutcome.miss.headerValue], text: "")

    /// Unreadable requests (400/408/413/414/431 from the connection) get the same Twilio-shaped
    /// body as every other refusal, counted under `route="unmatched"` and logged with method and
    /// path "-".
    public func errorResponse(for error: HTTPParseError) -> HTTPResponse {
        let response = Renderer.error(
            TwilioError(status: error.status, code: 20000 + error.status.code, message: error.description))
        telemetry.unlooped.add(.bypass)
        telemetry.record(
            route: .unmatched, status: response.status, cache: .bypass, seconds: nil, in: telemetry.unlooped)
        if logger.enabled(.info) {
            logger.access(
                Logger.Access(
                    method: "-", path: "-", status: response.status.code, bytes: response.body.count, durationMs: 0,
                    cache: CacheOutcome.bypass.headerValue, upstreamStatus: nil, requestID: nil))
        }
        return response
    }
}
