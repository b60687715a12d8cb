import XCTest

@testable import Redis

/// A Redis connection's lifecycle without sockets: the test feeds the machine the events the
/// socket and the timers would, with a clock of its own, and checks the one action each returns.
final class RedisConnectionStateMachineTests: XCTestCase {
    static let millisecond: UInt64 = 1_000_000
    /// Backoff from 10 ms (each delay drawn from the upper half of its ceiling) up to 80 ms.
    static let initialBackoff = 10 * millisecond

    func machine(handshakeReplies: Int = 2, usesTLS: Bool = false) -> RedisConnectionStateMachine {
        RedisConnectionStateMachine(
            connectTimeoutMilliseconds: 500, handshakeReplies: handshakeReplies,
            backoff: ReconnectBackoff(initial: Self.initialBackoff, maximum: 8 * Self.initialBackoff),
            usesTLS: usesTLS)
    }

    /// A rediss:// machine whose socket is connected and runs the TLS handshake.
    func tlsHandshaking(handshakeReplies: Int = 2) -> RedisConnectionStateMachine {
        var machine = machine(handshakeReplies: handshakeReplies, usesTLS: true)
        _ = machine.connectRequested()
        _ = machine.socketOpened(now: 0)
        XCTAssertEqual(machine.socketConnected(), .none, "the socket starts TLS by itself")
        XCTAssertEqual(machine.state, .tlsHandshaking(deadline: 500 * Self.millisecond))
        return machine
    }

    /// Drives a fresh machine through open and connect (the handshake sent, not answered yet).
    func handshaking(now: UInt64 = 0) -> RedisConnectionStateMachine {
        var machine = machine()
        XCTAssertEqual(machine.connectRequested(), .openSocket(attempt: 0))
        XCTAssertEqual(machine.socketOpened(now: now), .armTimer(at: now + 500 * Self.millisecond))
        XCTAssertEqual(machine.socketConnected(), .sendHandshake(deadline: now + 500 * Self.millisecond))
        return machine
    }

    func ready() -> RedisConnectionStateMachine {
        var machine = handshaking()
        XCTAssertEqual(machine.handshakeReplied(), .none)
        XCTAssertEqual(machine.handshakeReplied(), .notifyReady)
        return machine
    }

    // MARK: coming up

    func testHappyPathOpensConnectsLogsInAndIsReady() {
        var machine = machine()
        XCTAssertEqual(machine.state, .disconnected(backoff: nil))
        XCTAssertFalse(machine.isConnecting)
        XCTAssertEqual(machine.connectRequested(), .openSocket(attempt: 0))
        XCTAssertEqual(machine.socketOpened(now: 1_000), .armTimer(at: 1_000 + 500 * Self.millisecond))
        XCTAssertEqual(machine.state, .connecting(deadline: 1_000 + 500 * Self.millisecond))
        XCTAssertTrue(machine.isConnecting)
        XCTAssertEqual(machine.socketConnected(), .sendHandshake(deadline: 1_000 + 500 * Self.millisecond))
        XCTAssertEqual(machine.state, .handshaking(remaining: 2, deadline: 1_000 + 500 * Self.millisecond))
        XCTAssertEqual(machine.handshakeReplied(), .none)
        XCTAssertEqual(machine.state, .handshaking(remaining: 1, deadline: 1_000 + 500 * Self.millisecond))
        XCTAssertFalse(machine.isReady)
        XCTAssertEqual(machine.handshakeReplied(), .notifyReady)
        XCTAssertEqual(machine.state, .ready)
        XCTAssertTrue(machine.isReady)
        XCTAssertFalse(machine.isConnecting)
        XCTAssertEqual(machine.connectRequested(), .none, "one socket at a time")
    }

    func testWithoutPasswordOrDatabaseTheConnectionIsReadyOnceConnected() {
        var machine = machine(handshakeReplies: 0)
        _ = machine.connectRequested()
        _ = machine.socketOpened(now: 0)
        XCTAssertEqual(machine.socketConnected(), .notifyReady)
        XCTAssertEqual(machine.state, .ready)
    }

    // MARK: TLS (issue 26)

    func testOverTLSTheLoginWaitsForTheTLSSessionWithTheSameDeadline() {
        var machine = tlsHandshaking()
        XCTAssertTrue(machine.isConnecting)
        XCTAssertFalse(machine.isReady)
        XCTAssertEqual(machine.handshakeReplied(), .none, "no login before TLS")
        XCTAssertEqual(machine.tlsEstablished(), .sendHandshake(deadline: 500 * Self.millisecond))
        XCTAssertEqual(machine.state, .handshaking(remaining: 2, deadline: 500 * Self.millisecond))
        XCTAssertEqual(machine.tlsEstablished(), .none, "once")
        var bare = tlsHandshaking(handshakeReplies: 0)
        XCTAssertEqual(bare.tlsEstablished(), .notifyReady)
        XCTAssertTrue(bare.isReady)
        var plain = self.machine(handshakeReplies: 0)
        XCTAssertEqual(plain.tlsEstablished(), .none, "plaintext machines never wait for TLS")
    }

    func testATLSHandshakePastTheConnectDeadlineClosesAndReconnects() {
        var machine = tlsHandshaking()
        let deadline = 500 * Self.millisecond
        XCTAssertEqual(
            machine.deadlineTimerFired(now: deadline - 1, earliestCommandDeadline: nil), .armTimer(at: deadline))
        XCTAssertEqual(
            machine.deadlineTimerFired(now: deadline, earliestCommandDeadline: nil),
            .closeSocket(.notConnected("no TLS session within 500 ms")))
        guard case .failPending(_, neverReady: true, reconnectAfter: .some) = machine.socketClosed(.timeout) else {
            return XCTFail("no reconnect")
        }
    }

    func testAFailedTLSHandshakeReconnectsWithBackoffLikeAFailedConnect() {
        var machine = tlsHandshaking()
        let failure = RedisError.notConnected("TLS handshake with cache failed: certificate verification failed")
        guard case .failPending(failure, neverReady: true, reconnectAfter: let delay?) = machine.socketClosed(failure)
        else { return XCTFail("no reconnect") }
        XCTAssertEqual(machine.state, .disconnected(backoff: delay))
        XCTAssertEqual(machine.reconnectTimerFired(), .openSocket(attempt: 1), "the backoff grows")
        var stopping = tlsHandshaking()
        XCTAssertEqual(stopping.stop(), .closeSocket(.stopped))
    }

    // MARK: connect deadline

    func testConnectDeadlinePassingWhileConnectingClosesTheSocket() {
        var machine = machine()
        _ = machine.connectRequested()
        _ = machine.socketOpened(now: 0)
        let deadline = 500 * Self.millisecond
        XCTAssertEqual(
            machine.deadlineTimerFired(now: deadline - 1, earliestCommandDeadline: nil), .armTimer(at: deadline),
            "an early fire waits on")
        XCTAssertEqual(
            machine.deadlineTimerFired(now: deadline, earliestCommandDeadline: nil),
            .closeSocket(.notConnected("no connection within 500 ms")))
        let closed = machine.socketClosed(.notConnected("no connection within 500 ms"))
        guard case .failPending(_, neverReady: true, reconnectAfter: let delay?) = closed else {
            return XCTFail("\(closed)")
        }
        XCTAssertEqual(machine.state, .disconnected(backoff: delay))
        XCTAssertEqual(machine.reconnectTimerFired(), .openSocket(attempt: 1))
    }

    func testConnectDeadlinePassingWhileHandshakingClosesTheSocket() {
        var machine = handshaking(now: 0)
        let deadline = 500 * Self.millisecond
        // The handshake's replies are pending with the connect deadline; the connect check comes first.
        XCTAssertEqual(
            machine.deadlineTimerFired(now: deadline + 3, earliestCommandDeadline: deadline),
            .closeSocket(.notConnected("no connection within 500 ms")))
        guard case .failPending(_, neverReady: true, reconnectAfter: .some) = machine.socketClosed(.timeout) else {
            return XCTFail("no reconnect")
        }
    }

    func testACommandPastItsDeadlineClosesAReadyConnection() {
        var machine = ready()
        XCTAssertEqual(machine.deadlineTimerFired(now: 100, earliestCommandDeadline: 200), .armTimer(at: 200))
        XCTAssertEqual(machine.deadlineTimerFired(now: 200, earliestCommandDeadline: 200), .closeSocket(.timeout))
        XCTAssertEqual(machine.deadlineTimerFired(now: 300, earliestCommandDeadline: nil), .none)
    }

    // MARK: handshake failure

    func testAFailedLoginClosesWithAReasonWithoutThePassword() {
        var machine = handshaking()
        let auth = RedisCommand.auth(username: "studio", password: "hunter2-secret")
        let action = machine.handshakeFailed(
            command: auth.name, error: .server("WRONGPASS invalid username-password pair or user is disabled."))
        guard case .closeSocket(.notConnected(let reason)) = action else { return XCTFail("\(action)") }
        XCTAssertTrue(reason.hasPrefix("AUTH failed: "), reason)
        XCTAssertTrue(reason.contains("WRONGPASS"), reason)
        XCTAssertFalse(reason.contains("hunter2"), reason)
        XCTAssertFalse(machine.isReady)
        let closed = machine.socketClosed(.notConnected(reason))
        guard case .failPending(let error, neverReady: true, reconnectAfter: .some) = closed else {
            return XCTFail("no reconnect after a failed login: \(closed)")
        }
        XCTAssertFalse("\(error)".contains("hunter2"))
    }

    // MARK: reconnecting

    func testACloseWhileReadyReconnectsWithGrowingBackoffResetOnceReady() {
        var machine = ready()
        let first = machine.socketClosed(.connectionClosed("Redis closed the connection"))
        guard case .failPending(.connectionClosed, neverReady: false, reconnectAfter: let delay?) = first else {
            return XCTFail("\(first)")
        }
        XCTAssertTrue((Self.initialBackoff / 2...Self.initialBackoff).contains(delay), "\(delay)")
        XCTAssertEqual(machine.state, .disconnected(backoff: delay))
        XCTAssertFalse(machine.isConnecting, "nothing is on its way up: waiting commands fail at once")

        XCTAssertEqual(machine.reconnectTimerFired(), .openSocket(attempt: 1))
        let refused = machine.openFailed(.notConnected("connect(): ECONNREFUSED"))
        guard case .scheduleReconnect(let second, .notConnected) = refused else { return XCTFail("\(refused)") }
        XCTAssertTrue((Self.initialBackoff...2 * Self.initialBackoff).contains(second), "doubled: \(second)")

        XCTAssertEqual(machine.reconnectTimerFired(), .openSocket(attempt: 2))
        _ = machine.socketOpened(now: 0)
        _ = machine.socketConnected()
        _ = machine.handshakeReplied()
        XCTAssertEqual(machine.handshakeReplied(), .notifyReady)
        XCTAssertEqual(machine.backoff.failures, 0)

        let again = machine.socketClosed(.connectionClosed("read: ECONNRESET")).reconnect
        XCTAssertTrue(again.map { (Self.initialBackoff / 2...Self.initialBackoff).contains($0) } ?? false, "reset")
        XCTAssertEqual(machine.connectRequested(), .openSocket(attempt: 1))
    }

    func testTheLoopStoppingTheSocketDoesNotReconnect() {
        var machine = ready()
        XCTAssertEqual(machine.socketClosed(.stopped), .failPending(.stopped, neverReady: false, reconnectAfter: nil))
        XCTAssertEqual(machine.state, .disconnected(backoff: nil))
    }

    // MARK: stopping

    func testStopInEveryStateNeverReconnects() {
        var states: [(String, RedisConnectionStateMachine, RedisConnectionStateMachine.Action)] = []
        states.append(("disconnected", machine(), .none))
        var waiting = machine()
        _ = waiting.connectRequested()
        _ = waiting.openFailed(.notConnected("connect(): ECONNREFUSED"))
        states.append(("waiting to reconnect", waiting, .cancelReconnect))
        var connecting = machine()
        _ = connecting.connectRequested()
        _ = connecting.socketOpened(now: 0)
        states.append(("connecting", connecting, .closeSocket(.stopped)))
        states.append(("handshaking", handshaking(), .closeSocket(.stopped)))
        states.append(("ready", ready(), .closeSocket(.stopped)))
        var stopped = ready()
        _ = stopped.stop()
        states.append(("stopped", stopped, .none))

        for (name, start, expected) in states {
            var machine = start
            XCTAssertEqual(machine.stop(), expected, name)
            XCTAssertEqual(machine.state, .stopped, name)
            if case .closeSocket = expected {
                XCTAssertEqual(
                    machine.socketClosed(.stopped), .failPending(.stopped, neverReady: false, reconnectAfter: nil),
                    name)
            }
            XCTAssertEqual(machine.socketClosed(.connectionClosed("late")).reconnect, nil, name)
            XCTAssertEqual(machine.reconnectTimerFired(), .none, name)
            XCTAssertEqual(machine.connectRequested(), .none, name)
            XCTAssertEqual(machine.deadlineTimerFired(now: .max, earliestCommandDeadline: 0), .none, name)
            XCTAssertEqual(machine.state, .stopped, name)
            XCTAssertFalse(machine.isReady || machine.isConnecting, name)
        }
    }

    // MARK: stale events

    func testLateOrStaleTimersAndEventsAreHarmless() {
        var machine = ready()
        XCTAssertEqual(machine.reconnectTimerFired(), .none, "a reconnect that lost the race with the connection")
        XCTAssertEqual(
            machine.deadlineTimerFired(now: 10_000 * Self.millisecond, earliestCommandDeadline: nil), .none,
            "the connect deadline no longer counts once ready")
        XCTAssertEqual(machine.socketConnected(), .none)
        XCTAssertEqual(machine.handshakeReplied(), .none)
        XCTAssertEqual(machine.handshakeFailed(command: "AUTH", error: .timeout), .none)
        XCTAssertEqual(machine.state, .ready)

        _ = machine.socketClosed(.timeout)
        let disconnected = machine.state
        XCTAssertEqual(machine.deadlineTimerFired(now: .max, earliestCommandDeadline: nil), .none)
        XCTAssertEqual(machine.socketClosed(.timeout), .none, "a socket reports its close once")
        XCTAssertEqual(machine.handshakeFailed(command: "AUTH", error: .timeout), .none, "a login failed by the close")
        XCTAssertEqual(machine.socketConnected(), .none)
        XCTAssertEqual(machine.state, disconnected)
    }
}

extension RedisConnectionStateMachine.Action {
    /// The reconnect delay an action asks for, if any.
    fileprivate var reconnect: UInt64? {
        switch self {
        case .failPending(_, _, let delay): delay
        case .scheduleReconnect(let delay, _): delay
        default: nil
        }
    }
}
