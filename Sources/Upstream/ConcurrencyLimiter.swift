import EventLoop

/// Caps one loop's upstream calls in flight. Callers beyond the cap wait in FIFO order; one still
/// waiting after `queueTimeout` is told so (and answered 503 by the gateway) instead of piling
/// on. Confined to its loop, so it needs no lock.
final class ConcurrencyLimiter: LoopLocal {
    private struct Waiter {
        let ticket: UInt64
        let deadline: UInt64
        let start: () -> Void
        let onTimeout: () -> Void
    }

    let limit: Int
    private let queueTimeout: UInt64
    private(set) var active = 0
    private var queue: [Waiter] = []
    private var queueHead = 0
    private var nextTicket: UInt64 = 0

    init(loop: EventLoop, limit: Int, queueTimeout: Double) {
        self.limit = max(1, limit)
        self.queueTimeout = MonotonicClock.nanoseconds(queueTimeout)
        // Queue deadlines are seconds long; the loop's quarter-second tick is precise enough.
        loop.addTicker { [weak self] in self?.expireWaiters(now: MonotonicClock.now()) }
    }

    /// Runs `start` once a slot is free: at once (returning nil) or later (returning the ticket
    /// that `withdraw` takes). The caller must `release()` after a started call.
    func acquire(_ start: @escaping () -> Void, onTimeout: @escaping () -> Void) -> UInt64? {
        if active < limit {
            active += 1
            start()
            return nil
        }
        nextTicket &+= 1
        queue.append(Waiter(ticket: nextTicket, deadline: MonotonicClock.now() + queueTimeout, start: start, onTimeout: onTimeout))
        return nextTicket
    }

    /// A queued caller gave up (its client went away).
    func withdraw(_ ticket: UInt64) {
        if let index = queue[queueHead...].firstIndex(where: { $0.ticket == ticket }) { queue.remove(at: index) }
    }

    func release() {
        if let next = popWaiter() {
            next.start()  // the slot passes straight to the next waiter
        } else {
            active -= 1
        }
    }

    var queued: Int { queue.count - queueHead }

    private func popWaiter() -> Waiter? {
        guard queueHead < queue.count else { return nil }
        let waiter = queue[queueHead]
        queueHead += 1
        if queueHead == queue.count || queueHead > 1024 {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return waiter
    }

    private func expireWaiters(now: UInt64) {
        while queueHead < queue.count, queue[queueHead].deadline <= now {
            popWaiter()?.onTimeout()
        }
    }

    func loopDidStop() {
        queue = []
        queueHead = 0
    }
}
