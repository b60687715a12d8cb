import Dispatch
import Locking

/// Caps in-flight upstream calls. Callers beyond the cap wait in FIFO order; a caller still
/// waiting after `queueTimeout` is told so (and answered 503 by the gateway) instead of piling on.
public final class ConcurrencyLimiter: Sendable {
    private struct Waiter {
        let id: UInt64
        let start: @Sendable () -> Void
    }

    private struct State {
        var active = 0
        var queue: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state = Locked(State())
    public let limit: Int
    public let queueTimeout: Double

    public init(limit: Int, queueTimeout: Double) {
        self.limit = max(1, limit)
        self.queueTimeout = queueTimeout
    }

    /// Runs `start` once a slot is free (maybe at once); the caller must `release()` after.
    /// `onTimeout` runs instead if no slot frees within `queueTimeout`.
    public func acquire(_ start: @escaping @Sendable () -> Void, onTimeout: @escaping @Sendable () -> Void) {
        let queuedID: UInt64? = state.withLock { state in
            if state.active < limit {
                state.active += 1
                return nil
            }
            state.nextID += 1
            state.queue.append(Waiter(id: state.nextID, start: start))
            return state.nextID
        }
        guard let queuedID else {
            start()
            return
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + queueTimeout) { [self] in
            let expired = state.withLock { state -> Bool in
                guard let index = state.queue.firstIndex(where: { $0.id == queuedID }) else { return false }
                state.queue.remove(at: index)
                return true
            }
            if expired { onTimeout() }
        }
    }

    public func release() {
        let next: Waiter? = state.withLock { state in
            if state.queue.isEmpty {
                state.active -= 1
                return nil
            }
            return state.queue.removeFirst()  // the slot passes straight to the next waiter
        }
        next?.start()
    }

    public var inFlight: Int { state.withLock { $0.active } }
    public var queued: Int { state.withLock { $0.queue.count } }
}
