import HTTP

/// What the cache did for one answer. Rendered as the `X-Cache` header here and nowhere else, and
/// kept as this enum in metrics labels and the access log.
enum CacheOutcome: Sendable, Hashable {
    /// A fresh entry answered; the upstream was not called.
    case hit
    /// A fresh entry another pod stored in the fleet (the second level, Redis) answered.
    case fleetHit
    /// The upstream was asked (or would have been, had it answered).
    case miss
    /// The upstream failed and an expired entry answered (`--stale-if-error`).
    case stale
    /// Not a cacheable read: refusals, writes, flow admin paths, unreadable requests.
    case bypass

    var headerValue: String {
        switch self {
        case .hit, .fleetHit: "HIT"
        case .miss: "MISS"
        case .stale: "STALE"
        case .bypass: "BYPASS"
        }
    }

    /// Metrics and the access log tell the two levels apart (`HIT-L2`); clients see `X-Cache: HIT`
    /// and, from the second level, `X-Cache-Level: L2`.
    var label: String { self == .fleetHit ? "HIT-L2" : headerValue }

    /// The fields an entry's answer carries for this outcome, rendered once per process.
    func renderedFields(gzip: Bool) -> RenderedFields {
        switch (self, gzip) {
        case (.hit, false): Self.rendered.hit.identity
        case (.hit, true): Self.rendered.hit.gzip
        case (.fleetHit, false): Self.rendered.fleetHit.identity
        case (.fleetHit, true): Self.rendered.fleetHit.gzip
        case (.miss, false): Self.rendered.miss.identity
        case (.miss, true): Self.rendered.miss.gzip
        case (.stale, false): Self.rendered.stale.identity
        case (.stale, true): Self.rendered.stale.gzip
        case (.bypass, false): Self.rendered.bypass.identity
        case (.bypass, true): Self.rendered.bypass.gzip
        }
    }

    private struct Variants {
        let identity: RenderedFields
        let gzip: RenderedFields

        init(_ outcome: CacheOutcome) {
            var fields: HTTPHeaders = ["X-Cache": outcome.headerValue]
            if outcome == .fleetHit { fields.add("X-Cache-Level", "L2") }
            fields.add("Vary", "Accept-Encoding")
            identity = RenderedFields(fields)
            fields.add("Content-Encoding", "gzip")
            gzip = RenderedFields(fields)
        }
    }

    private static let rendered = (
        hit: Variants(.hit), fleetHit: Variants(.fleetHit), miss: Variants(.miss), stale: Variants(.stale),
        bypass: Variants(.bypass)
    )
}
