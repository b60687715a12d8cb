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
    /// Seconds past an execution's creation its data may live anywhere (0 = no limit).
    public var retention: Double

    public init(activeTTL: Double, staleIfError: Double, retention: Double = 0) {
        self.activeTTL = activeTTL
        self.staleIfError = staleIfError
        self.retention = retention
    }

    /// Monotonic seconds past which an entry stored `now` may not live: its execution's
    /// creation (`created`, wall seconds; nil when unknown: then the store time, since an
    /// execution is never younger than the first answer about it) + retention. Infinity without a
    /// limit; at or before `now` when the data is already past it (then it is not stored).
    public func retainUntil(created: Double?, now: Double, wallNow: Double) -> Double {
        guard retention > 0 else { return .infinity }
        let left = (created ?? wallNow) + retention - wallNow
        return now + min(left, retention)
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
        guard !entry.isPastRetention(now: now) else { return false }
        guard let expiresAt = entry.expiresAt else { return true }
        return now < expiresAt + staleIfError
    }
}
