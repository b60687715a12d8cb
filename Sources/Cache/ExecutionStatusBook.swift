import Locking
import Studio

/// Which executions are known to have ended. Ending is final in Studio, so a SID is only ever
/// added (or dropped when its execution is deleted or the book is full). SIDs are globally unique,
/// so the book needs no account: it only decides how long an account's own entries live.
public final class ExecutionStatusBook: Sendable {
    private let ended = Locked<Set<SID>>([])
    private let capacity: Int

    public init(capacity: Int = 1_000_000) { self.capacity = capacity }

    public func isEnded(_ execution: SID) -> Bool {
        ended.withLock { $0.contains(execution) }
    }

    public func markEnded(_ execution: SID) {
        ended.withLock { set in
            // Forgetting ended executions only makes their children short-lived again: safe.
            if set.count >= capacity { set.removeAll(keepingCapacity: true) }
            set.insert(execution)
        }
    }

    public func forget(_ execution: SID) {
        _ = ended.withLock { $0.remove(execution) }
    }
}
