import Cache
import Compression
import HTTP
import Studio
import Upstream

/// Building responses: cache entries are sent from their stored bytes (no JSON work on a hit);
/// everything else gets its URLs rewritten on the way through.
extension Gateway {
    /// An entry holding the Execution view of `answer` (URLs already pointing at the gateway).
    func entry(from answer: UpstreamAnswer, account: String, now: Double, lifetime: CachePolicy.Lifetime) -> CachedResponse {
        let expiresAt: Double?
        switch lifetime {
        case .permanent: expiresAt = nil
        case .until(let time): expiresAt = time
        case .notCached: expiresAt = now
        }
        let body = answer.body
        // Kept for good (ended data): compress hard once. Kept for seconds (active data, list
        // pages, polled over and over): compress fast; the smaller size would not pay for itself.
        let level: Int32 = expiresAt == nil ? 6 : 1
        return CachedResponse(status: answer.status, contentType: answer.headers["Content-Type"].map(Self.interned), requestID: answer.headers["Twilio-Request-Id"],
                              gzipBody: Zlib.compress(body, format: .gzip, level: level), identityLength: body.count,
                              account: account, storedAt: now, expiresAt: expiresAt)
    }

    /// Studio's usual content type as a literal, so a hundred thousand entries share one string.
    static func interned(_ contentType: String) -> String {
        contentType == "application/json" ? "application/json" : contentType == "application/json; charset=utf-8" ? "application/json; charset=utf-8" : contentType
    }

    /// `entry` with the view the route needs; an Engagement view made now is kept in the cache
    /// (if `key` still holds this entry), so it is built once per entry.
    func viewed(_ entry: CachedResponse, for forward: Forward) -> CachedResponse {
        guard forward.route.viaEngagements, entry.engagementGzip == nil else { return entry }
        let execution = (try? Zlib.decompress(entry.gzipBody, format: .gzip)) ?? []
        let engagement = StudioJSONRewriter.rewrite(execution, engagementView) ?? execution
        let updated = entry.withEngagementView(Zlib.compress(engagement, format: .gzip, level: 6))
        if let key = CacheKey(account: entry.account, route: forward.route, query: forward.query) {
            cache.replace(key, entry, with: updated)
        }
        return updated
    }

    /// `identity`: the entry's inflated Execution view when the caller has it at hand (a miss).
    func reply(_ entry: CachedResponse, cacheResult: String, now: Double, forward: Forward, identity: [UInt8]? = nil) -> HTTPResponse {
        let entry = viewed(entry, for: forward)
        var headers = HTTPHeaders(capacity: 6)
        if let contentType = entry.contentType { headers.add("Content-Type", contentType) }
        if let requestID = entry.requestID { headers.add("Twilio-Request-Id", requestID) }
        headers.add("X-Cache", cacheResult)
        if cacheResult != "MISS" { headers.add("Age", String(Int(max(0, now - entry.storedAt)))) }
        headers.add("Vary", "Accept-Encoding")
        let gzipBody = forward.route.viaEngagements ? entry.engagementGzip ?? entry.gzipBody : entry.gzipBody
        if forward.acceptsGzip {
            headers.add("Content-Encoding", "gzip")
            return HTTPResponse(status: entry.status, headers: headers, body: gzipBody)
        }
        if let identity, !forward.route.viaEngagements { return HTTPResponse(status: entry.status, headers: headers, body: identity) }
        // The stored bytes were compressed by us; failure here would be a bug, not bad input.
        let inflate = { (try? Zlib.decompress(gzipBody, format: .gzip)) ?? [] }
        // Only entries that can be hit again earn a place in the hot set; a miss's entry may not even be stored.
        let body = cacheResult == "MISS" ? inflate() : inflated.body(of: entry, engagementView: forward.route.viaEngagements, inflate: inflate)
        return HTTPResponse(status: entry.status, headers: headers, body: body)
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
