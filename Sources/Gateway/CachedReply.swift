import Cache
import Compression
import HTTP
import Studio
import Upstream

/// Building responses: cache entries are sent from their stored bytes (no JSON work on a hit);
/// everything else gets its URLs rewritten on the way through.
extension Gateway {
    /// An entry holding the Execution view of `answer` (URLs already pointing at the gateway).
    func entry(from answer: UpstreamAnswer, account: String, now: Double, lifetime: CachePolicy.Lifetime)
        -> CachedResponse
    {
        let expiresAt: Double?
        switch lifetime {
        case .permanent: expiresAt = nil
        case .until(let time): expiresAt = time
        case .notCached: expiresAt = now
        }
        let body = answer.body
        // Kept for good (ended data): compressed hard, once. Kept for seconds (active data, list
        // pages): kept as is, and compressed (fast) only if a gzip client hits it; most are
        // replaced before that, and a miss should not pay for a compression nobody may use.
        let permanent = expiresAt == nil
        return CachedResponse(
            status: answer.status, contentType: answer.headers["Content-Type"].map(Self.interned),
            requestID: answer.headers["Twilio-Request-Id"],
            gzipBody: permanent ? Zlib.compress(body, format: .gzip, level: 6) : nil,
            identityBody: permanent ? nil : body,
            identityLength: body.count, account: account, storedAt: now, expiresAt: expiresAt)
    }

    /// Studio's usual content type as a literal, so a hundred thousand entries share one string.
    static func interned(_ contentType: String) -> String {
        contentType == "application/json"
            ? "application/json"
            : contentType == "application/json; charset=utf-8" ? "application/json; charset=utf-8" : contentType
    }

    /// `entry` with the view the route needs; an Engagement view made now is kept in the cache
    /// (if `key` still holds this entry), so it is built once per entry.
    func viewed(_ entry: CachedResponse, for forward: Forward) -> CachedResponse {
        guard forward.route.viaEngagements, entry.engagementGzip == nil else { return entry }
        let execution = entry.identityBody ?? inflated(entry.gzipBody)
        let engagement = StudioJSONRewriter.rewrite(execution, engagementView) ?? execution
        let updated = entry.withEngagementView(Zlib.compress(engagement, format: .gzip, level: 6))
        if let key = CacheKey(account: entry.account, route: forward.route, query: forward.query) {
            cache.replace(key, entry, with: updated)
        }
        return updated
    }

    /// `identity`: the entry's inflated Execution view when the caller has it at hand (a miss).
    func reply(_ entry: CachedResponse, cacheResult: String, now: Double, forward: Forward, identity: [UInt8]? = nil)
        -> HTTPResponse
    {
        let entry = viewed(entry, for: forward)
        var headers = HTTPHeaders(capacity: 6)
        if let contentType = entry.contentType { headers.add("Content-Type", contentType) }
        if let requestID = entry.requestID { headers.add("Twilio-Request-Id", requestID) }
        headers.add("X-Cache", cacheResult)
        if cacheResult != "MISS" { headers.add("Age", String(Int(max(0, now - entry.storedAt)))) }
        headers.add("Vary", "Accept-Encoding")
        if forward.route.viaEngagements, let engagement = entry.engagementGzip {
            if forward.acceptsGzip { return Self.gzipped(entry, engagement, headers) }
            let body =
                cacheResult == "MISS"
                ? inflated(engagement) : inflated.body(of: entry, engagementView: true) { inflated(engagement) }
            return HTTPResponse(status: entry.status, headers: headers, body: body)
        }
        // A gzip client gets the stored gzip; a short-lived entry is compressed on its first such
        // hit (a miss answers with the identity body it has at hand instead).
        if forward.acceptsGzip,
            let gzip = entry.gzipBody ?? (cacheResult == "MISS" ? nil : compressed(entry, for: forward).gzipBody)
        {
            return Self.gzipped(entry, gzip, headers)
        }
        if let identity = identity ?? entry.identityBody {
            return HTTPResponse(status: entry.status, headers: headers, body: identity)
        }
        // Stored compressed only (a permanent entry): inflate, once per hot entry.
        let gzip = entry.gzipBody ?? []
        let body =
            cacheResult == "MISS" ? inflated(gzip) : inflated.body(of: entry, engagementView: false) { inflated(gzip) }
        return HTTPResponse(status: entry.status, headers: headers, body: body)
    }

    private static func gzipped(_ entry: CachedResponse, _ gzip: [UInt8], _ headers: HTTPHeaders) -> HTTPResponse {
        var headers = headers
        headers.add("Content-Encoding", "gzip")
        return HTTPResponse(status: entry.status, headers: headers, body: gzip)
    }

    /// Bytes the gateway compressed itself: failing to inflate them would be a bug, not bad input.
    private func inflated(_ gzip: [UInt8]?) -> [UInt8] {
        (try? Zlib.decompress(gzip ?? [], format: .gzip)) ?? []
    }

    /// `entry` with its gzip body, compressed now (fast: the entry is short-lived) and kept in the
    /// cache if the key still holds this entry, so it is compressed once.
    func compressed(_ entry: CachedResponse, for forward: Forward) -> CachedResponse {
        guard entry.gzipBody == nil, let identity = entry.identityBody else { return entry }
        let updated = entry.withGzipBody(Zlib.compress(identity, format: .gzip, level: 1))
        if let key = CacheKey(account: entry.account, route: forward.route, query: forward.query) {
            cache.replace(key, entry, with: updated)
        }
        return updated
    }

    /// An answer passed on: its Execution view, translated again for Engagement routes.
    func passThroughResponse(_ answer: UpstreamAnswer, cacheResult: String, forward: Forward) -> HTTPResponse {
        var headers = answer.headers
        headers.add("X-Cache", cacheResult)
        var body = answer.body
        if forward.route.viaEngagements { body = StudioJSONRewriter.rewrite(body, engagementView) ?? body }
        return HTTPResponse(status: answer.status, headers: headers, body: body)
    }
}
