/// How a command hears its reply (a server error reply is `.server`).
typealias ReplyHandler = (Result<RESPValue, RedisError>) -> Void

/// A command sent and not yet answered: Redis answers in order, so the first reply is the oldest's.
struct PendingReply {
    let deadline: UInt64
    let completion: ReplyHandler
}

/// The FIFO of one connection's unanswered commands: appended at the back, answered from the front
/// in O(1) (an array and a head index, compacted as the front is consumed).
struct PendingReplies {
    private var items: [PendingReply?] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }

    mutating func append(_ reply: PendingReply) { items.append(reply) }

    mutating func popFirst() -> PendingReply? {
        guard head < items.count else { return nil }
        let first = items[head]
        items[head] = nil
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: items.capacity <= 1024)
            head = 0
        } else if head >= 256, head * 2 >= items.count {
            items.removeSubrange(0..<head)
            head = 0
        }
        return first
    }

    /// The earliest deadline of any pending reply (they may differ per command).
    var earliestDeadline: UInt64? {
        var earliest: UInt64? = nil
        for index in head..<items.count {
            if let deadline = items[index]?.deadline, deadline < (earliest ?? .max) { earliest = deadline }
        }
        return earliest
    }

    /// Empties the queue, oldest first.
    mutating func removeAll() -> [PendingReply] {
        let all = items[head...].compactMap { $0 }
        items = []
        head = 0
        return all
    }
}
