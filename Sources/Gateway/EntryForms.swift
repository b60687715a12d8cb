import Cache
import Compression
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
