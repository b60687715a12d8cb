import HTTP
import Studio

/// How long an upstream answer may be served from cache (docs/ARCHITECTURE.md, «Cache policy»). Pure.
public struct CachePolicy: Sendable {
    public enum Lifetime: Equatable, Sendable {
        case notCached
        case until(Double)
        case permanent
    }

    public var activeTTL: Double
    public var staleIfError: Double

    public init(activeTTL: Double, staleIfError: Double) {
        self.activeTTL = activeTTL
        self.staleIfError = staleIfError
    }

    /// - Parameters:
    ///   - endedBeforeRequest: the execution was known to be ended before this request went upstream.
    ///   - bodyStatus: the `status` member of an Execution body, if this is one.
    public func lifetime(
        route: StudioRoute, status: HTTPStatus, endedBeforeRequest: Bool, bodyStatus: String?, now: Double
    )
        -> Lifetime
    {
        guard status == 200 else { return .notCached }  // errors, creates (201) and deletes (204) are never cached
        let shortLived: Lifetime = activeTTL > 0 ? .until(now + activeTTL) : .notCached
        switch route.resource {
        case .flowAdmin:
            return .notCached
        case .executionList:
            return shortLived  // lists change as executions are created: never permanent
        case .execution:
            return bodyStatus == "ended" ? .permanent : shortLived
        case .executionContext, .stepList, .step, .stepContext:
            // A child fetched while the execution was active may be outdated the moment it ends.
            return endedBeforeRequest ? .permanent : shortLived
        }
    }

    /// Whether an expired entry may still be served when the upstream fails.
    public func maySendStale(_ entry: CachedResponse, now: Double) -> Bool {
        guard let expiresAt = entry.expiresAt else { return true }
        return now < expiresAt + staleIfError
    }
}
