/// One stored upstream answer. Immutable: a refresh replaces the whole entry.
public final class CachedResponse: Sendable {
    public let status: Int
    public let contentType: String?
    public let requestID: String?
    /// The body, gzip-compressed once when stored; hits send it as is or inflate it.
    public let gzipBody: [UInt8]
    public let identityLength: Int
    /// The account the body belongs to (from its `account_sid`, or the verified caller).
    public let account: String
    /// Monotonic seconds when stored; `Age` counts from here.
    public let storedAt: Double
    /// Monotonic seconds after which the entry is stale; nil = immutable (ended execution data).
    public let expiresAt: Double?
    /// The v1 Engagement view of the same body, gzip-compressed, made on its first use.
    public let engagementGzip: [UInt8]?

    public init(status: Int, contentType: String?, requestID: String?, gzipBody: [UInt8], identityLength: Int,
                account: String, storedAt: Double, expiresAt: Double?, engagementGzip: [UInt8]? = nil) {
        self.status = status
        self.contentType = contentType
        self.requestID = requestID
        self.gzipBody = gzipBody
        self.identityLength = identityLength
        self.account = account
        self.storedAt = storedAt
        self.expiresAt = expiresAt
        self.engagementGzip = engagementGzip
    }

    /// The same entry carrying its Engagement view too.
    public func withEngagementView(_ gzip: [UInt8]) -> CachedResponse {
        CachedResponse(status: status, contentType: contentType, requestID: requestID, gzipBody: gzipBody, identityLength: identityLength,
                       account: account, storedAt: storedAt, expiresAt: expiresAt, engagementGzip: gzip)
    }

    public var isPermanent: Bool { expiresAt == nil }

    public func isFresh(now: Double) -> Bool { expiresAt.map { now < $0 } ?? true }

    /// Bytes charged against the cache budget: the body plus bookkeeping.
    public func cost(for key: CacheKey) -> Int {
        gzipBody.count + (engagementGzip?.count ?? 0) + key.resource.utf8.count + key.account.utf8.count + key.group.utf8.count
            + (contentType?.utf8.count ?? 0) + (requestID?.utf8.count ?? 0) + Self.overhead
    }

    /// Everything per entry besides the bytes counted above: the object, the dictionary slot, the
    /// LRU/group node, allocator headers. Measured: 100k entries cost this much more RSS than
    /// their body and key bytes, so `--cache-size` bounds real memory, not a fraction of it.
    static let overhead = 640
}
