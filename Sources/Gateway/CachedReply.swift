import Cache
import Compression
import HTTP
import Upstream

/// Building responses from cache entries: no JSON work, only the stored bytes (gzip as stored,
/// or inflated for clients that do not accept gzip).
extension Gateway {
    static func entry(from answer: UpstreamResponse, account: String, now: Double, lifetime: CachePolicy.Lifetime) -> CachedResponse {
        let expiresAt: Double?
        switch lifetime {
        case .permanent: expiresAt = nil
        case .until(let time): expiresAt = time
        case .notCached: expiresAt = now
        }
        return CachedResponse(status: answer.status, contentType: answer.headers["Content-Type"], requestID: answer.headers["Twilio-Request-Id"],
                              gzipBody: Zlib.compress(answer.body, format: .gzip, level: 6), identityLength: answer.body.count,
                              account: account, storedAt: now, expiresAt: expiresAt)
    }

    static func reply(_ entry: CachedResponse, cacheResult: String, now: Double, gzip: Bool) -> HTTPResponse {
        var headers = HTTPHeaders()
        if let contentType = entry.contentType { headers.add("Content-Type", contentType) }
        if let requestID = entry.requestID { headers.add("Twilio-Request-Id", requestID) }
        headers.add("X-Cache", cacheResult)
        if cacheResult != "MISS" { headers.add("Age", String(Int(max(0, now - entry.storedAt)))) }
        headers.add("Vary", "Accept-Encoding")
        if gzip {
            headers.add("Content-Encoding", "gzip")
            return HTTPResponse(status: entry.status, headers: headers, body: entry.gzipBody)
        }
        // The stored bytes were compressed by us moments or hours ago; failure here is a bug.
        let body = (try? Zlib.decompress(entry.gzipBody, format: .gzip)) ?? []
        return HTTPResponse(status: entry.status, headers: headers, body: body)
    }

    static func passThroughResponse(_ answer: UpstreamResponse, cacheResult: String) -> HTTPResponse {
        var headers = answer.headers
        headers.add("X-Cache", cacheResult)
        return HTTPResponse(status: answer.status, headers: headers, body: answer.body)
    }
}
