import Locking

/// Joins identical concurrent misses: the first caller for a key does the work, later callers
/// wait for its result (success or failure alike). Results are never kept after delivery.
public final class Coalescer<Result: Sendable>: Sendable {
    public typealias Waiter = @Sendable (Result) -> Void
    private let waiting = Locked<[String: [Waiter]]>([:])

    public init() {}

    /// Registers `waiter`; returns true when the caller is the leader and must call `complete`.
    public func join(_ key: String, _ waiter: @escaping Waiter) -> Bool {
        waiting.withLock { waiting in
            if waiting[key] != nil {
                waiting[key]!.append(waiter)
                return false
            }
            waiting[key] = [waiter]
            return true
        }
    }

    /// Delivers `result` to everyone who joined `key`, leader included.
    public func complete(_ key: String, with result: Result) {
        let waiters = waiting.withLock { $0.removeValue(forKey: key) } ?? []
        for waiter in waiters { waiter(result) }
    }
}
