/// How long a connection waits before its next connect attempt: exponential from `initial` up to
/// `maximum`, each delay drawn from its upper half (jitter), so a fleet of sidecars that lost the
/// same Redis does not reconnect in step. The first retry also waits: a connection closed by a
/// timeout must not reconnect in a tight loop against a Redis that is merely slow.
struct ReconnectBackoff {
    let initial: UInt64
    let maximum: UInt64
    private(set) var failures = 0

    /// Delays in nanoseconds.
    init(initial: UInt64, maximum: UInt64) {
        self.initial = max(1, initial)
        self.maximum = max(self.initial, maximum)
    }

    /// The delay before the next attempt, counting this failure.
    mutating func nextDelay() -> UInt64 {
        let doublings = min(failures, 32)
        failures += 1
        let (scaled, overflow) = initial.multipliedReportingOverflow(by: UInt64(1) << UInt64(doublings))
        let ceiling = overflow ? maximum : min(maximum, scaled)
        return UInt64.random(in: (ceiling / 2)...ceiling)
    }

    /// A connection got through its handshake: start again from `initial`.
    mutating func reset() { failures = 0 }
}
