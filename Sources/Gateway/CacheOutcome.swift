/// What the cache did for one answer. Rendered as the `X-Cache` header here and nowhere else, and
/// kept as this enum in metrics labels and the access log.
enum CacheOutcome: Sendable, Hashable {
    /// A fresh entry answered; the upstream was not called.
    case hit
    /// A fresh entry another pod stored in the fleet's second level (Redis) answered.
    case sharedHit
    /// The upstream was asked (or would have been, had it answered).
    case miss
    /// The upstream failed and an expired entry answered (`--stale-if-error`).
    case stale
    /// Not a cacheable read: refusals, writes, flow admin paths, unreadable requests.
    case bypass

    var headerValue: String {
        switch self {
        case .hit, .sharedHit: "HIT"
        case .miss: "MISS"
        case .stale: "STALE"
        case .bypass: "BYPASS"
        }
    }

    /// Metrics and the access log tell the two levels apart (`HIT-L2`); clients see `X-Cache: HIT`
    /// and, from the second level, `X-Cache-Level: L2`.
    var label: String { self == .sharedHit ? "HIT-L2" : headerValue }
}
