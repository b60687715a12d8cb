import HTTP
import Locking
import Studio

/// One stored upstream answer. Immutable: a refresh replaces the whole entry.
public final class CachedResponse: Sendable {
    // Laid out small (a hundred thousand of these is the cache): the status, the permanence and
    // the identity length share a word, and "never expires" is an infinite time rather than an
    // optional.
    private let statusCode: UInt16
    /// Ended execution data: kept until its retention bound, never replaced by a short-lived copy.
    public let isPermanent: Bool
    private let identityCount: UInt32
    /// When it stops being fresh: a short-lived entry's TTL, a permanent one's retention bound
    /// (never later than `retainUntil`); the one comparison a hit makes.
    private let expiry: Double
    /// Monotonic seconds past which nothing of it may be answered (not even stale), kept,
    /// snapshotted or shared: its execution's `date_created` + `--retention`.
    public let retainUntil: Double
    public var status: HTTPStatus { HTTPStatus(Int(statusCode)) }
    /// Content-Type as the response head carries it, rendered once and shared by every entry of
    /// that type (a Twilio-Request-Id that is not an `RQ` SID is rendered here too, per entry).
    public let fields: RenderedFields
    /// Twilio's request id, inline (34 bytes, no allocation of its own).
    public let requestSID: SID?
    /// The body gzip-compressed: at once for permanent entries; for short-lived ones on their first
    /// hit by a gzip client (a miss answers with the identity body, so a miss compresses nothing).
    public let gzipBody: [UInt8]?
    /// The identity body of a short-lived entry (nil for permanent entries, stored compressed).
    public let identityBody: [UInt8]?
    public var identityLength: Int { Int(identityCount) }
    /// The account the body belongs to (from its `account_sid`, or the verified caller).
    public let account: String
    /// Monotonic seconds when stored; `Age` counts from here.
    public let storedAt: Double
    /// Monotonic seconds after which the entry is stale; nil = never (permanent, no retention limit).
    public var expiresAt: Double? { expiry.isInfinite ? nil : expiry }
    /// The v1 Engagement view of the same body, gzip-compressed, made on its first use.
    public let engagementGzip: [UInt8]?

    public convenience init(
        status: HTTPStatus, contentType: String?, requestID: String?, gzipBody: [UInt8]?, identityBody: [UInt8]? = nil,
        identityLength: Int,
        account: String, storedAt: Double, expiresAt: Double?, retainUntil: Double = .infinity,
        engagementGzip: [UInt8]? = nil
    ) {
        let requestSID = requestID.flatMap { SID($0, prefix: "RQ") }
        let fields: RenderedFields
        if let requestID, requestSID == nil {
            var headers = HTTPHeaders(capacity: 2)
            if let contentType { headers.add("Content-Type", contentType) }
            headers.add("Twilio-Request-Id", requestID)
            fields = RenderedFields(headers)
        } else {
            fields = Self.shared(contentType)
        }
        self.init(
            status: status, fields: fields, requestSID: requestSID, gzipBody: gzipBody, identityBody: identityBody,
            identityLength: identityLength, account: account, storedAt: storedAt, permanent: expiresAt == nil,
            expiry: min(expiresAt ?? .infinity, retainUntil), retainUntil: retainUntil, engagementGzip: engagementGzip)
    }

    init(
        status: HTTPStatus, fields: RenderedFields, requestSID: SID?, gzipBody: [UInt8]?, identityBody: [UInt8]?,
        identityLength: Int, account: String, storedAt: Double, permanent: Bool, expiry: Double, retainUntil: Double,
        engagementGzip: [UInt8]?
    ) {
        precondition(gzipBody != nil || identityBody != nil, "an entry holds its body in one form at least")
        self.statusCode = UInt16(clamping: status.code)
        self.fields = fields
        self.requestSID = requestSID
        self.gzipBody = gzipBody
        self.identityBody = identityBody
        self.identityCount = UInt32(clamping: identityLength)
        self.account = account
        self.storedAt = storedAt
        self.isPermanent = permanent
        self.expiry = expiry
        self.retainUntil = retainUntil
        self.engagementGzip = engagementGzip
    }

    /// Read back from `fields` (snapshots, the fleet's codec, logs: not per hit).
    public var contentType: String? { fields.value("Content-Type") }
    public var requestID: String? { requestSID?.value ?? fields.value("Twilio-Request-Id") }

    /// The request id as the head carries it.
    public var requestIDField: InlineField? {
        requestSID?.withBytes { InlineField(name: "Twilio-Request-Id", validatedValue: $0) }
    }

    /// One rendered Content-Type per distinct type (a handful in practice; bounded all the same).
    private static let contentTypes = Locked<[String: RenderedFields]>([:])

    private static func shared(_ contentType: String?) -> RenderedFields {
        guard let contentType else { return .none }
        return contentTypes.withLock { known in
            if let fields = known[contentType] { return fields }
            let fields = RenderedFields(["Content-Type": contentType])
            if known.count < 64 { known[contentType] = fields }
            return fields
        }
    }

    /// The same entry carrying its Engagement view too.
    public func withEngagementView(_ gzip: [UInt8]) -> CachedResponse {
        CachedResponse(
            status: status, fields: fields, requestSID: requestSID, gzipBody: gzipBody, identityBody: identityBody,
            identityLength: identityLength, account: account, storedAt: storedAt, permanent: isPermanent,
            expiry: expiry, retainUntil: retainUntil, engagementGzip: gzip)
    }

    /// The same entry carrying its gzip body too.
    public func withGzipBody(_ gzip: [UInt8]) -> CachedResponse {
        CachedResponse(
            status: status, fields: fields, requestSID: requestSID, gzipBody: gzip, identityBody: identityBody,
            identityLength: identityLength, account: account, storedAt: storedAt, permanent: isPermanent,
            expiry: expiry, retainUntil: retainUntil, engagementGzip: engagementGzip)
    }

    /// The same entry with other bodies in the same forms (the fleet's URL rewrite): the head,
    /// account, lifetime and retention bound are kept.
    public func withBodies(
        gzip: [UInt8]?, identity: [UInt8]?, identityLength: Int, engagementGzip: [UInt8]?
    ) -> CachedResponse {
        CachedResponse(
            status: status, fields: fields, requestSID: requestSID, gzipBody: gzip, identityBody: identity,
            identityLength: identityLength, account: account, storedAt: storedAt, permanent: isPermanent,
            expiry: expiry, retainUntil: retainUntil, engagementGzip: engagementGzip)
    }

    /// Past its retention bound: dropped wherever it is met, never answered.
    public func isPastRetention(now: Double) -> Bool { now >= retainUntil }

    public func isFresh(now: Double) -> Bool { now < expiry }

    /// Bytes charged against the cache budget: the bodies, what the key holds beyond its fixed size
    /// (a query) and bookkeeping (the account's string is one per account, shared by its entries:
    /// not charged per entry).
    public func cost(for key: CacheKey) -> Int {
        (gzipBody?.count ?? 0) + (identityBody?.count ?? 0) + (engagementGzip?.count ?? 0) + key.extraBytes
            + Self.overhead
    }

    /// Everything per entry besides the bytes counted above: the object, the node (its key
    /// inline) and its index slots, array headers, the allocator's rounding. Measured
    /// (bench.py --only memory, 100k entries, with the retention bound): RSS less the stored
    /// bodies was 401 B per entry with padding contexts and 395 B with realistic ones, so
    /// `--cache-size` bounds real memory (docs/BENCHMARKS.md).
    static let overhead = 397
}
