/// Who is asking for an upstream slot: a caller whose credential the upstream has verified, or one
/// it has not (yet), identified by a key of its credential.
public enum Admission: Sendable, Equatable {
    case verified
    case unverified(credential: Int)
}

/// The rules of one loop's upstream slots, as pure logic: the caller passes the time and carries
/// out the answers (`UpstreamSlots` on the loop). Callers beyond the cap wait in FIFO order; one
/// still waiting `queueTimeout` after it asked is expired (and answered 503 by the gateway) instead
/// of piling on. Unverified callers get at most a quarter of the slots, and one credential at most
/// two of those, so a flood of guessed passwords can never keep a verified caller from a slot.
struct ConcurrencyLimiter {
    /// A queued caller's place, to start, withdraw or expire it by.
    struct Ticket: Hashable, Sendable {
        let number: UInt64
    }

    enum Acquired: Equatable {
        /// A slot is taken for the caller: send now, and `release` when the attempt is answered.
        case start
        /// No slot the caller may take is free: it waits under this ticket.
        case queued(Ticket)
    }

    private struct Waiter {
        let ticket: Ticket
        let admission: Admission
        let deadline: UInt64
    }

    let limit: Int
    let unverifiedLimit: Int
    static let perCredentialLimit = 2
    /// Nanoseconds a caller may wait for a slot.
    let queueTimeout: UInt64
    private(set) var active = 0
    private var activeUnverified = 0
    private var activePerCredential: [Int: Int] = [:]
    private var queue: [Waiter] = []
    private var lastTicket: UInt64 = 0

    init(limit: Int, queueTimeout: UInt64) {
        self.limit = max(1, limit)
        unverifiedLimit = max(1, self.limit / 4)
        self.queueTimeout = queueTimeout
    }

    var queued: Int { queue.count }

    mutating func acquire(_ admission: Admission, now: UInt64) -> Acquired {
        // Waiters that may start have been started at every release, so a newcomer that may start
        // takes no one's turn.
        if mayStart(admission) {
            take(admission)
            return .start
        }
        lastTicket &+= 1
        let ticket = Ticket(number: lastTicket)
        queue.append(Waiter(ticket: ticket, admission: admission, deadline: now + queueTimeout))
        return .queued(ticket)
    }

    /// Gives back the slot of a started caller; returns the waiter that takes it, its slot already
    /// counted. One slot frees at most one waiter: whoever starts takes the counts it freed.
    mutating func release(_ admission: Admission) -> Ticket? {
        active -= 1
        if case .unverified(let credential) = admission {
            activeUnverified -= 1
            activePerCredential[credential, default: 1] -= 1
            if activePerCredential[credential] == 0 { activePerCredential[credential] = nil }
        }
        // The first waiter allowed to start takes the slot (verified ones are always allowed).
        guard let index = queue.firstIndex(where: { mayStart($0.admission) }) else { return nil }
        let next = queue.remove(at: index)
        take(next.admission)
        return next.ticket
    }

    /// A queued caller gave up (its client went away). False if it was no longer queued.
    @discardableResult
    mutating func withdraw(_ ticket: Ticket) -> Bool {
        guard let index = queue.firstIndex(where: { $0.ticket == ticket }) else { return false }
        queue.remove(at: index)
        return true
    }

    /// Takes out the waiters whose deadline has come, in queue order.
    mutating func expire(now: UInt64) -> [Ticket] {
        guard queue.contains(where: { $0.deadline <= now }) else { return [] }
        let expired = queue.filter { $0.deadline <= now }.map(\.ticket)
        queue.removeAll { $0.deadline <= now }
        return expired
    }

    private func mayStart(_ admission: Admission) -> Bool {
        guard active < limit else { return false }
        guard case .unverified(let credential) = admission else { return true }
        return activeUnverified < unverifiedLimit
            && activePerCredential[credential, default: 0] < Self.perCredentialLimit
    }

    private mutating func take(_ admission: Admission) {
        active += 1
        if case .unverified(let credential) = admission {
            activeUnverified += 1
            activePerCredential[credential, default: 0] += 1
        }
    }
}
