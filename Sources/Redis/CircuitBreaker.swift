import Locking

/// Stops sending commands to a Redis that keeps failing: after `threshold` consecutive failures
/// the circuit opens and commands fail at once for `coolDown`; then one probe is let through
/// (half-open). Its success closes the circuit, its failure opens it again. Shared by every loop:
/// Redis is one service, and one probe at a time is enough to learn that it is back.
/// Time is passed in (monotonic nanoseconds), so the rules are tested without waiting.
public final class CircuitBreaker: Sendable {
    public enum State: Int, Sendable, Equatable {
        case closed = 0
        case open = 1
        case halfOpen = 2
    }

    /// What one command may do.
    public enum Admission: Sendable, Equatable {
        case allowed
        /// The one command sent while half-open; its outcome decides.
        case probe
        case rejected
    }

    private struct Status {
        var state = State.closed
        var consecutiveFailures = 0
        var openUntil: UInt64 = 0
        var probeStarted: UInt64 = 0
    }

    public let threshold: Int
    public let coolDown: UInt64
    private let status = Locked(Status())
    private let onOpen: @Sendable () -> Void

    /// `coolDown` in nanoseconds; `onOpen` runs (under the lock, keep it short) each time it opens.
    public init(threshold: Int, coolDown: UInt64, onOpen: @escaping @Sendable () -> Void = {}) {
        self.threshold = max(1, threshold)
        self.coolDown = coolDown
        self.onOpen = onOpen
    }

    public var state: State { status.withLock { $0.state } }

    public func admit(now: UInt64) -> Admission {
        status.withLock { status in
            switch status.state {
            case .closed:
                return .allowed
            case .open:
                guard now >= status.openUntil else { return .rejected }
                status.state = .halfOpen
                status.probeStarted = now
                return .probe
            case .halfOpen:
                // One probe at a time. Every command completes within its deadline, so a probe
                // older than a cool-down was lost (a bug elsewhere): let another one through
                // rather than stay half-open for ever.
                guard now &- status.probeStarted > coolDown else { return .rejected }
                status.probeStarted = now
                return .probe
            }
        }
    }

    /// The outcome of an admitted command. Outcomes of commands admitted before the circuit
    /// opened change nothing while it is open or probing: only the probe decides.
    public func record(success: Bool, admission: Admission, now: UInt64) {
        status.withLock { status in
            switch (status.state, admission) {
            case (.closed, _):
                if success {
                    status.consecutiveFailures = 0
                    return
                }
                status.consecutiveFailures += 1
                if status.consecutiveFailures >= threshold { open(&status, now: now) }
            case (.halfOpen, .probe):
                if success {
                    status.state = .closed
                    status.consecutiveFailures = 0
                } else {
                    open(&status, now: now)
                }
            case (.open, _), (.halfOpen, _):
                break
            }
        }
    }

    private func open(_ status: inout Status, now: UInt64) {
        status.state = .open
        status.openUntil = now &+ coolDown
        status.consecutiveFailures = 0
        onOpen()
    }
}
