import Cache
import Compression
import Fleet
import Studio

/// The forms an entry gains after it is made, each made once: its Engagement view (v1 Engagement
/// routes) and, for a short-lived entry, its gzip body. Pure: the caller decides whether to keep
/// the entry it gets back (`EntryStore.keep`).
struct EntryForms: Sendable {
    /// Execution → Engagement paths and keys, applied to the Execution view.
    let engagementView: URLRewrite

    func engagementBody(from execution: [UInt8]) -> [UInt8] {
        StudioJSONRewriter.rewrite(execution, engagementView) ?? execution
    }

    /// `entry` with its Engagement view, made from `execution` (or the entry's own body); also the
    /// view's identity body.
    func addingEngagementView(to entry: CachedResponse, execution: [UInt8]?) -> (
        entry: CachedResponse, engagement: [UInt8]
    ) {
        let engagement = engagementBody(from: execution ?? entry.identityBody ?? Self.inflated(entry.gzipBody))
        return (entry.withEngagementView(Zlib.compress(engagement, format: .gzip, level: 6)), engagement)
    }

    /// `entry` with its gzip body, compressed now (fast: the entry is short-lived); nil if it has
    /// one already or holds no identity body.
    static func addingGzip(to entry: CachedResponse) -> CachedResponse? {
        guard entry.gzipBody == nil, let identity = entry.identityBody else { return nil }
        return entry.withGzipBody(Zlib.compress(identity, format: .gzip, level: 1))
    }

    /// Bytes the gateway compressed itself: failing to inflate them would be a bug, not bad input.
    static func inflated(_ gzip: [UInt8]?) -> [UInt8] {
        (try? Zlib.decompress(gzip ?? [], format: .gzip)) ?? []
    }
}

/// The fleet's form of an entry (`FleetForm`): every URL that names this pod's public URL names
/// Studio's own origin in Redis, and Studio's origin names this pod's public URL on adoption, so
/// each pod answers with its own `--public-url` whichever pod stored the entry.
extension EntryForms {
    /// The origin bodies name in Redis: no pod's, and the same whatever each pod's `--upstream`.
    static let fleetOrigin = "https://studio.twilio.com"

    static func fleetForm(publicURL: String) -> FleetForm {
        let out = URLRewrite(fromOrigins: [publicURL], toOrigin: fleetOrigin)
        let back = URLRewrite(fromOrigins: [fleetOrigin], toOrigin: publicURL)
        // A pod whose public URL is Studio's origin has nothing to rewrite.
        guard out.fromOrigins != [out.toOrigin] else { return .unchanged }
        return FleetForm(toFleet: { rewritten($0, out) }, fromFleet: { rewritten($0, back) })
    }

    /// `entry` with its bodies rewritten by `rules`, in the forms it holds them (a permanent
    /// entry's gzip recompressed as `EntryStore` makes it); `entry` itself when nothing changed.
    static func rewritten(_ entry: CachedResponse, _ rules: URLRewrite) -> CachedResponse {
        let body = entry.identityBody ?? inflated(entry.gzipBody)
        let engagement = entry.engagementGzip.map { inflated($0) }
        let newBody = StudioJSONRewriter.rewrite(body, rules) ?? body
        let newEngagement = engagement.map { StudioJSONRewriter.rewrite($0, rules) ?? $0 }
        guard newBody != body || newEngagement != engagement else { return entry }
        // A short-lived entry's gzip is made again on its first gzip hit, as after its fetch.
        let gzip =
            entry.identityBody != nil
            ? nil
            : entry.gzipBody.map { old in newBody == body ? old : Zlib.compress(newBody, format: .gzip, level: 6) }
        let engagementGzip = entry.engagementGzip.map { old in
            newEngagement == engagement ? old : Zlib.compress(newEngagement ?? [], format: .gzip, level: 6)
        }
        return entry.withBodies(
            gzip: gzip, identity: entry.identityBody == nil ? nil : newBody, identityLength: newBody.count,
            engagementGzip: engagementGzip)
    }
}
