/// The bytes a connection still has to send, in order: `head` (response heads, small answers,
/// 100 Continue) and then at most one response body, kept as the handler gave it and sent after
/// `head` by one gather write instead of being copied behind it. Whatever is queued after a body
/// first moves the body's unsent part into `head` (`settleBody`), so bytes go out in the order
/// they were queued. Modelled on SwiftNIO's `PendingWritesManager`, for one body at a time.
struct OutputQueue {
    private(set) var head: [UInt8] = []
    /// Bytes at the front of `head` already sent.
    private(set) var headSent = 0
    private var body: [UInt8] = []
    private var bodySent = 0
    /// Unsent bytes past which the connection takes no further request (`isFull`).
    let maxUnsentBytes: Int
    /// Sent bytes at the front of `head` dropped once at least this many and at least half of it.
    let compactionThreshold: Int
    /// Capacity of `head` kept for the next answer once everything is sent.
    let keptCapacity: Int

    init(maxUnsentBytes: Int, compactionThreshold: Int, keptCapacity: Int) {
        self.maxUnsentBytes = maxUnsentBytes
        self.compactionThreshold = compactionThreshold
        self.keptCapacity = keptCapacity
    }

    var unsentCount: Int { (head.count - headSent) + (body.count - bodySent) }

    var hasUnsentBytes: Bool { headSent < head.count || bodySent < body.count }

    /// More bytes wait for the client than `maxUnsentBytes`: take no request until it reads. One
    /// answer larger than that is still queued whole; the cap only holds back the next one.
    var isFull: Bool { unsentCount > maxUnsentBytes }

    /// Queues `bytes` behind everything already queued.
    mutating func append(_ bytes: [UInt8]) {
        settleBody()
        head.append(contentsOf: bytes)
    }

    /// Queues a response: `writeHead` appends its head to the head bytes and says whether `body`
    /// follows it (not for HEAD, 204 or 304); if so the body is kept as is, not copied.
    mutating func appendResponse(head writeHead: (inout [UInt8]) -> Bool, body: [UInt8]) {
        settleBody()
        if writeHead(&head) {
            self.body = body
            bodySent = 0
        }
    }

    /// The unsent head bytes and body bytes, for one gather write.
    func withUnsentBytes<Result>(_ send: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Result) -> Result {
        head.withUnsafeBytes { head in
            body.withUnsafeBytes { body in
                send(
                    UnsafeRawBufferPointer(rebasing: head[headSent...]),
                    UnsafeRawBufferPointer(rebasing: body[bodySent...]))
            }
        }
    }

    /// Records that the first `count` unsent bytes went out. Once everything has, the buffers are
    /// emptied (keeping a head buffer of up to `keptCapacity` for the next answer).
    mutating func markSent(_ count: Int) {
        let fromHead = min(count, head.count - headSent)
        headSent += fromHead
        bodySent += count - fromHead
        if !hasUnsentBytes {
            body = []
            bodySent = 0
            head.removeAll(keepingCapacity: head.capacity <= keptCapacity)
            headSent = 0
        } else if headSent >= compactionThreshold, headSent * 2 >= head.count {
            // A client that keeps the queue from emptying must not make it keep what was sent.
            head.removeFirst(headSent)
            headSent = 0
        }
    }

    /// Forgets everything queued (the connection closed).
    mutating func drop() {
        head = []
        headSent = 0
        body = []
        bodySent = 0
    }

    /// Moves the unsent part of `body` into `head`, so whatever is queued next follows it.
    private mutating func settleBody() {
        guard bodySent < body.count else { return }
        head.append(contentsOf: body[bodySent...])
        body = []
        bodySent = 0
    }
}
