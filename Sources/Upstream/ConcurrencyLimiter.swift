import EventLoop

/// Who is asking for an upstream slot: a caller whose credential the upstream has verified, or one
/// it has not (yet), identified by a key of its credential.
public enum Admission: Sendable, Equatable {
    case verified
    case unverified(credential: Int)
}

/// Caps one loop's upstream calls in flight. Callers beyond the cap wait in FIFO order; one still
/// waiting after `queueTimeout` is told so (and answered 503 by the gateway) instead of piling
/// on. Unverified callers get at most a quarter of the slots, and one credential at most two of
/// those, so a flood of guessed passwords can never keep a verified caller from a slot.
/// Confined to its loop, so it needs no lock.
final class ConcurrencyLimiter: LoopLocal {
    private struct Waiter {
        let ticket: UInt64
        let admission: Admission
        let deadline: UInt64
        let start: () -> Void
        let onTimeout: () -> Void
    }

    let limit: Int
    let unverifiedLimit: Int
    static let perCredentialLimit = 2
    private let queueTimeout: UInt64
    private(set) var active = 0
    private var activeUnverified = 0
    private var activePerCredential: [Int: Int] = [:]
    private var queue: [Waiter] = []
    private var nextTicket: UInt64 = 0

    init(loop: EventLoop, limit: Int, queueTimeout: Double) {
        self.limit = max(1, limit)
        unverifiedLimit = max(1, self.limit / 4)
        self.queueTimeout = MonotonicClock.nanoseconds(queueTimeout)
        // Queue deadlines are seconds long; the loop's quarter-second tick is precise enough.
        loop.addTicker { [weak self] in self?.expireWaiters(now: MonotonicClock.now()) }
    }

    /// Runs `start` once a slot this caller may take is free: at once (returning nil) or later
    /// (returning the ticket that `withdraw` takes). The caller must `release` after a started call.
    func acquire(_ admission: Admission, _ start: @escaping () -> Void, onTimeout: @escaping () -> Void) -> UInt64? {
        // Waiters that may start have been started at every release, so a newcomer that may start
        // takes no one's turn.
        if mayStart(admission) {
            take(admission)
            start()
            return nil
        }
        nextTicket &+= 1
        queue.append(
            Waiter(
                ticket: nextTicket, admission: admission, deadline: MonotonicClock.now() + queueTimeout,
                start: start, onTimeout: onTimeout))
        return nextTicket
    }

    /// A queued caller gave up (its client went away).
    func withdraw(_ ticket: UInt64) {
        queue.removeAll { $0.ticket == ticket }
    }

    func release(_ admission: Admission) {
        active -= 1
        if case .unverified(let credential) = admission {
            activeUnverified -= 1
            activePerCredential[credential, default: 1] -= 1
            if activePerCredential[credential] == 0 { activePerCredential[credential] = nil }
        }
        // The first waiter allowed to start takes the slot (verified ones are always allowed).
        guard let index = queue.firstIndex(where: { mayStart($0.admission) }) else { return }
        let next = queue.remove(at: index)
        take(next.admission)
        next.start()
    }

    private func mayStart(_ admission: Admission) -> Bool {
        guard active < limit else { return false }
        guard case .unverified(let credential) = admission else { return true }
        return activeUnverified < unverifiedLimit
            && activePerCredential[credential, default: 0] < Self.perCredentialLimit
    }

    private func take(_ admission: Admission) {
        active += 1
        if case .unverified(let credential) = admission {
            activeUnverified += 1
            activePerCredential[credential, default: 0] += 1
        }
    }

    private func expireWaiters(now: UInt64) {
        let expired = queue.filter { $0.deadline <= now }
        guard !expired.isEmpty else { return }
        queue.removeAll { $0.deadline <= now }
        for waiter in expired { waiter.onTimeout() }
    }

    func loopDidStop() {
        queue = []
    }
}
