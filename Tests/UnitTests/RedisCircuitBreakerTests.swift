import Locking
import XCTest

@testable import Redis
@testable import TestSupport

/// The breaker's rules with the clock in the test's hands.
final class RedisCircuitBreakerTests: XCTestCase {
    let second: UInt64 = 1_000_000_000

    func testOpensAfterConsecutiveFailuresOnly() {
        let breaker = CircuitBreaker(threshold: 3, coolDown: second)
        for _ in 0..<2 { breaker.record(success: false, admission: breaker.admit(now: 0), now: 0) }
        breaker.record(success: true, admission: breaker.admit(now: 0), now: 0)
        for _ in 0..<2 { breaker.record(success: false, admission: breaker.admit(now: 0), now: 0) }
        XCTAssertEqual(breaker.state, .closed)
        breaker.record(success: false, admission: breaker.admit(now: 0), now: 0)
        XCTAssertEqual(breaker.state, .open)
        XCTAssertEqual(breaker.admit(now: second - 1), .rejected)
    }

    func testOneProbeAfterTheCoolDownDecides() {
        let openings = Locked(0)
        let breaker = CircuitBreaker(threshold: 1, coolDown: second, onOpen: { openings.withLock { $0 += 1 } })
        breaker.record(success: false, admission: .allowed, now: 10)
        XCTAssertEqual(breaker.admit(now: 10 + second), .probe)
        XCTAssertEqual(breaker.state, .halfOpen)
        XCTAssertEqual(breaker.admit(now: 10 + second), .rejected, "one probe at a time")
        // A late answer to a command sent before the circuit opened decides nothing.
        breaker.record(success: true, admission: .allowed, now: 10 + second)
        XCTAssertEqual(breaker.state, .halfOpen)
        breaker.record(success: false, admission: .probe, now: 20 + second)
        XCTAssertEqual(breaker.state, .open)
        XCTAssertEqual(breaker.admit(now: 19 + 2 * second), .rejected, "a failed probe starts a new cool-down")
        XCTAssertEqual(breaker.admit(now: 20 + 2 * second), .probe)
        breaker.record(success: true, admission: .probe, now: 20 + 2 * second)
        XCTAssertEqual(breaker.state, .closed)
        XCTAssertEqual(breaker.admit(now: 20 + 2 * second), .allowed)
        XCTAssertEqual(openings.withLock { $0 }, 2)
    }

    func testALostProbeIsReplacedAfterACoolDown() {
        let breaker = CircuitBreaker(threshold: 1, coolDown: second)
        breaker.record(success: false, admission: .allowed, now: 0)
        XCTAssertEqual(breaker.admit(now: second), .probe)
        XCTAssertEqual(breaker.admit(now: 2 * second), .rejected)
        XCTAssertEqual(breaker.admit(now: 2 * second + 1), .probe)
    }

    func testReconnectDelaysDoubleWithJitterUpToTheMaximum() {
        var backoff = ReconnectBackoff(initial: 20, maximum: 1_000)
        for ceiling: UInt64 in [20, 40, 80, 160, 320, 640, 1_000, 1_000] {
            let delay = backoff.nextDelay()
            XCTAssertTrue((ceiling / 2...ceiling).contains(delay), "\(delay) outside \(ceiling / 2)...\(ceiling)")
        }
        for _ in 0..<100 { XCTAssertLessThanOrEqual(backoff.nextDelay(), 1_000) }
        backoff.reset()
        XCTAssertLessThanOrEqual(backoff.nextDelay(), 20)
    }
}
