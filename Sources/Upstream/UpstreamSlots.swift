import EventLoop

/// One loop's upstream slots: `ConcurrencyLimiter`'s rules on the loop's clock, and the calls
/// waiting for a slot with what starts each. Confined to its loop, so it needs no lock.
final class UpstreamSlots: LoopLocal, UpstreamCallWaits {
    private struct Waiter {
        let call: UpstreamCall
        let start: () -> Void
    }

    private let loop: EventLoop
    private var limiter: ConcurrencyLimiter
    private var waiters: [ConcurrencyLimiter.Ticket: Waiter] = [:]

    init(loop: EventLoop, limit: Int, queueTimeout: Double) {
        self.loop = loop
        limiter = ConcurrencyLimiter(limit: limit, queueTimeout: MonotonicClock.nanoseconds(queueTimeout))
        // Queue deadlines are seconds long; the loop's quarter-second tick is precise enough.
        loop.addTicker { [weak self] in self?.expireWaiters(now: MonotonicClock.now()) }
    }

    /// A slot for `admission` at once (`.start`: the caller sends, then `release`s), or a ticket
    /// to `wait` under.
    func acquire(_ admission: Admission, now: UInt64) -> ConcurrencyLimiter.Acquired {
        limiter.acquire(admission, now: now)
    }

    /// Parks `call` under its ticket: `start` runs once a slot is its own, holding that slot.
    func wait(_ call: UpstreamCall, ticket: ConcurrencyLimiter.Ticket, start: @escaping () -> Void) {
        waiters[ticket] = Waiter(call: call, start: start)
        call.enterQueue(ticket)
    }

    func release(_ admission: Admission) {
        guard let ticket = limiter.release(admission), let next = waiters.removeValue(forKey: ticket) else { return }
        next.call.leaveQueue()
        next.start()
    }

    func withdraw(_ ticket: ConcurrencyLimiter.Ticket) {
        limiter.withdraw(ticket)
        waiters[ticket] = nil
    }

    func cancelBackoff(_ timer: LoopTimers.ID) {
        loop.cancel(timer)
    }

    private func expireWaiters(now: UInt64) {
        for ticket in limiter.expire(now: now) {
            waiters.removeValue(forKey: ticket)?.call.finish(.failure(.overloaded))
        }
    }

    func loopDidStop() {
        waiters = [:]
    }
}
