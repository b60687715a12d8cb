/// One pooled Redis connection's lifecycle without any I/O: events go in, one
/// `RedisConnectionStateMachine.Action` comes out, and `RedisConnection` carries it out. Time comes
/// with the events (`now`, monotonic nanoseconds), so tests drive the deadlines with a clock of
/// their own. The commands waiting for replies stay with the connection (they hold completions);
/// the machine is told their earliest deadline when the timer fires.
///
/// disconnected → connecting → [tlsHandshaking, for rediss://] → handshaking (AUTH, SELECT) → ready,
/// and back to disconnected (with a reconnect after a backoff) whenever the socket closes; stopped
/// is final. One connect deadline covers the socket, the TLS handshake and the login.
struct RedisConnectionStateMachine {
    enum State: Equatable {
        /// No socket. `backoff`: the delay of the reconnect being waited out (nil: none scheduled,
        /// before the first connect or after the loop stopped the socket).
        case disconnected(backoff: UInt64?)
        /// The socket is opening; given up at `deadline`.
        case connecting(deadline: UInt64)
        /// rediss://: the socket is connected and runs the TLS handshake, by the connect deadline.
        case tlsHandshaking(deadline: UInt64)
        /// The handshake is sent; `remaining` of its replies are still due, by the connect deadline.
        case handshaking(remaining: Int, deadline: UInt64)
        case ready
        /// Final: nothing reconnects.
        case stopped
    }

    enum Action: Equatable {
        case none
        /// Open a socket (the resolver picks the address for this attempt), then report
        /// `socketOpened` or `openFailed`.
        case openSocket(attempt: Int)
        /// Write AUTH and SELECT, their replies due by `deadline`; report each reply.
        case sendHandshake(deadline: UInt64)
        /// Have the deadline timer fire by then.
        case armTimer(at: UInt64)
        /// Close the socket; it then reports `socketClosed` with this reason.
        case closeSocket(RedisError)
        /// The connection can take commands: tell the pool.
        case notifyReady
        /// No socket could be opened: count the failure, reconnect after `after` (nanoseconds), and
        /// tell the pool why the connection is down.
        case scheduleReconnect(after: UInt64, down: RedisError)
        /// The socket is gone: fail every pending command with `error` (the resolver looks again
        /// when `neverReady`). Then, with a `reconnectAfter`, as `scheduleReconnect`.
        case failPending(RedisError, neverReady: Bool, reconnectAfter: UInt64?)
        /// Stopped while waiting to reconnect: forget the reconnect.
        case cancelReconnect
    }

    private(set) var state = State.disconnected(backoff: nil)
    private(set) var backoff: ReconnectBackoff
    private let connectTimeoutMilliseconds: Int
    private let handshakeReplies: Int
    private let usesTLS: Bool

    /// `handshakeReplies`: how many commands the handshake sends (0 when there is neither a
    /// password nor a database to select). `usesTLS`: the socket secures itself once connected
    /// and reports `tlsEstablished`.
    init(connectTimeoutMilliseconds: Int, handshakeReplies: Int, backoff: ReconnectBackoff, usesTLS: Bool = false) {
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.handshakeReplies = handshakeReplies
        self.backoff = backoff
        self.usesTLS = usesTLS
    }

    var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    /// A socket is on its way up: commands may wait for it.
    var isConnecting: Bool {
        switch state {
        case .connecting, .tlsHandshaking, .handshaking: true
        case .disconnected, .ready, .stopped: false
        }
    }

    // MARK: connecting

    mutating func connectRequested() -> Action {
        guard case .disconnected = state else { return .none }
        return .openSocket(attempt: backoff.failures)
    }

    /// A stale reconnect (the connection came up or stopped meanwhile) does nothing.
    mutating func reconnectTimerFired() -> Action { connectRequested() }

    mutating func socketOpened(now: UInt64) -> Action {
        guard case .disconnected = state else { return .none }
        let deadline = now &+ UInt64(max(1, connectTimeoutMilliseconds)) * 1_000_000
        state = .connecting(deadline: deadline)
        return .armTimer(at: deadline)
    }

    mutating func openFailed(_ error: RedisError) -> Action {
        guard case .disconnected = state else { return .none }
        let delay = backoff.nextDelay()
        state = .disconnected(backoff: delay)
        return .scheduleReconnect(after: delay, down: error)
    }

    mutating func socketConnected() -> Action {
        guard case .connecting(let deadline) = state else { return .none }
        if usesTLS {
            state = .tlsHandshaking(deadline: deadline)
            return .none  // the socket starts the TLS handshake by itself
        }
        return startLogin(deadline: deadline)
    }

    /// The TLS handshake completed (a failed one closes the socket: `socketClosed`).
    mutating func tlsEstablished() -> Action {
        guard case .tlsHandshaking(let deadline) = state else { return .none }
        return startLogin(deadline: deadline)
    }

    private mutating func startLogin(deadline: UInt64) -> Action {
        if handshakeReplies == 0 { return becomeReady() }
        state = .handshaking(remaining: handshakeReplies, deadline: deadline)
        return .sendHandshake(deadline: deadline)
    }

    mutating func handshakeReplied() -> Action {
        guard case .handshaking(let remaining, let deadline) = state else { return .none }
        if remaining > 1 {
            state = .handshaking(remaining: remaining - 1, deadline: deadline)
            return .none
        }
        return becomeReady()
    }

    /// `command` is the command's name only: the password and the database are never part of the
    /// reason.
    mutating func handshakeFailed(command: String, error: RedisError) -> Action {
        guard case .handshaking = state else { return .none }
        return .closeSocket(.notConnected("\(command) failed: \(error)"))
    }

    private mutating func becomeReady() -> Action {
        state = .ready
        backoff.reset()
        return .notifyReady
    }

    // MARK: deadlines

    /// The connect deadline, or a command's (`earliestCommandDeadline`, of those waiting for a
    /// reply), may have passed. A command that missed its deadline closes the connection: a reply
    /// arriving later would be taken as the answer to the next command.
    mutating func deadlineTimerFired(now: UInt64, earliestCommandDeadline: UInt64?) -> Action {
        let connectDeadline: UInt64?
        switch state {
        case .connecting(let deadline), .tlsHandshaking(let deadline), .handshaking(_, let deadline):
            connectDeadline = deadline
        case .ready: connectDeadline = nil
        case .disconnected, .stopped: return .none  // stale: nothing is pending without a socket
        }
        if let connectDeadline, connectDeadline <= now {
            if case .tlsHandshaking = state {
                return .closeSocket(.notConnected("no TLS session within \(connectTimeoutMilliseconds) ms"))
            }
            return .closeSocket(.notConnected("no connection within \(connectTimeoutMilliseconds) ms"))
        }
        if let earliestCommandDeadline, earliestCommandDeadline <= now { return .closeSocket(.timeout) }
        guard let next = [earliestCommandDeadline, connectDeadline].compactMap({ $0 }).min() else { return .none }
        return .armTimer(at: next)
    }

    // MARK: closing

    mutating func socketClosed(_ error: RedisError) -> Action {
        let neverReady: Bool
        switch state {
        case .disconnected:
            return .none  // a socket reports its close once
        case .stopped:
            return .failPending(error, neverReady: false, reconnectAfter: nil)
        case .connecting, .tlsHandshaking, .handshaking:
            neverReady = error != .stopped
        case .ready:
            neverReady = false
        }
        // The loop is stopping: the pool stops this connection too.
        guard error != .stopped else {
            state = .disconnected(backoff: nil)
            return .failPending(error, neverReady: neverReady, reconnectAfter: nil)
        }
        let delay = backoff.nextDelay()
        state = .disconnected(backoff: delay)
        return .failPending(error, neverReady: neverReady, reconnectAfter: delay)
    }

    /// Closes the socket, or forgets the reconnect; the socket's close then fails what is pending.
    mutating func stop() -> Action {
        let previous = state
        state = .stopped
        switch previous {
        case .connecting, .tlsHandshaking, .handshaking, .ready: return .closeSocket(.stopped)
        case .disconnected(backoff: .some): return .cancelReconnect
        case .disconnected(backoff: nil), .stopped: return .none
        }
    }
}
