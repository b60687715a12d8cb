import XCTest

@testable import TestSupport
@testable import Upstream

/// The rules of a loop's upstream slots without a loop: the test passes the time and carries out
/// what the limiter answers.
final class ConcurrencyLimiterTests: XCTestCase {
    typealias Ticket = ConcurrencyLimiter.Ticket
    typealias Acquired = ConcurrencyLimiter.Acquired

    /// The ticket of a caller that has to wait (a failure if it was let start).
    func queued(_ acquired: Acquired, file: StaticString = #filePath, line: UInt = #line) -> Ticket? {
        guard case .queued(let ticket) = acquired else {
            XCTFail("expected to wait, got \(acquired)", file: file, line: line)
            return nil
        }
        return ticket
    }

    func testCallersBeyondTheLimitWaitAndStartInArrivalOrder() {
        var limiter = ConcurrencyLimiter(limit: 2, queueTimeout: 1_000)
        XCTAssertEqual(limiter.acquire(.verified, now: 0), .start)
        XCTAssertEqual(limiter.acquire(.verified, now: 0), .start)
        let waiting = (1...3).compactMap { queued(limiter.acquire(.verified, now: UInt64($0))) }
        XCTAssertEqual(waiting.count, 3)
        XCTAssertEqual(limiter.queued, 3)
        XCTAssertEqual(limiter.release(.verified), waiting[0])
        XCTAssertEqual(limiter.release(.verified), waiting[1])
        XCTAssertEqual(limiter.active, 2, "a started waiter holds the slot it was given")
        XCTAssertEqual(limiter.release(.verified), waiting[2])
        XCTAssertNil(limiter.release(.verified))
        XCTAssertNil(limiter.release(.verified))
        XCTAssertEqual(limiter.active, 0)
        XCTAssertEqual(limiter.acquire(.verified, now: 9), .start)
    }

    func testUnverifiedCallersGetAQuarterOfTheSlotsAndOneCredentialTwo() {
        var limiter = ConcurrencyLimiter(limit: 16, queueTimeout: 1_000)
        XCTAssertEqual(limiter.unverifiedLimit, 4)
        XCTAssertEqual(limiter.acquire(.unverified(credential: 1), now: 0), .start)
        XCTAssertEqual(limiter.acquire(.unverified(credential: 1), now: 0), .start)
        let thirdOfOne = queued(limiter.acquire(.unverified(credential: 1), now: 0))
        XCTAssertEqual(limiter.acquire(.unverified(credential: 2), now: 0), .start)
        XCTAssertEqual(limiter.acquire(.unverified(credential: 3), now: 0), .start)
        let fifth = queued(limiter.acquire(.unverified(credential: 4), now: 0))
        XCTAssertEqual(limiter.acquire(.verified, now: 0), .start, "the other twelve slots are the verified's")
        XCTAssertEqual(limiter.active, 5)

        XCTAssertEqual(
            limiter.release(.unverified(credential: 2)), fifth, "credential 1 still holds two: the next in line goes")
        XCTAssertEqual(limiter.release(.unverified(credential: 1)), thirdOfOne)
        XCTAssertEqual(limiter.queued, 0)
        XCTAssertEqual(ConcurrencyLimiter(limit: 3, queueTimeout: 0).unverifiedLimit, 1, "never none")
    }

    func testAVerifiedCallerIsNeverStarvedByAnUnverifiedFlood() {
        var limiter = ConcurrencyLimiter(limit: 8, queueTimeout: 1_000)
        var flood: [Ticket] = []
        for credential in 0..<100 {
            if case .queued(let ticket) = limiter.acquire(.unverified(credential: credential), now: 0) {
                flood.append(ticket)
            }
        }
        XCTAssertEqual(flood.count, 98, "a quarter of eight slots went to guesses")
        for _ in 0..<6 { XCTAssertEqual(limiter.acquire(.verified, now: 1), .start) }
        guard let verified = queued(limiter.acquire(.verified, now: 2)) else { return }
        XCTAssertEqual(limiter.release(.verified), verified, "it goes ahead of the 98 guesses queued before it")
        XCTAssertEqual(limiter.release(.unverified(credential: 0)), flood[0], "then guesses, in their order")
        XCTAssertNil(limiter.release(.verified), "guesses still hold their quarter")
        XCTAssertEqual(limiter.queued, 97)
    }

    func testAWaiterExpiresAtItsDeadlineAndNotBefore() {
        var limiter = ConcurrencyLimiter(limit: 1, queueTimeout: 100)
        XCTAssertEqual(limiter.acquire(.verified, now: 0), .start)
        let early = queued(limiter.acquire(.verified, now: 10))
        let late = queued(limiter.acquire(.verified, now: 50))
        XCTAssertEqual(limiter.expire(now: 109), [])
        XCTAssertEqual(limiter.expire(now: 110), [early].compactMap { $0 })
        XCTAssertEqual(limiter.expire(now: 110), [], "expired once")
        XCTAssertEqual(limiter.release(.verified), late)
        XCTAssertEqual(limiter.expire(now: 1_000), [], "a started waiter does not expire")
        XCTAssertEqual(limiter.active, 1)
    }

    func testAWithdrawnWaiterIsNeverStarted() {
        var limiter = ConcurrencyLimiter(limit: 1, queueTimeout: 100)
        XCTAssertEqual(limiter.acquire(.verified, now: 0), .start)
        guard let gone = queued(limiter.acquire(.verified, now: 0)),
            let next = queued(limiter.acquire(.verified, now: 0))
        else { return }
        XCTAssertTrue(limiter.withdraw(gone))
        XCTAssertFalse(limiter.withdraw(gone))
        XCTAssertEqual(limiter.release(.verified), next)
        XCTAssertNil(limiter.release(.verified))
        XCTAssertEqual(limiter.expire(now: 1_000), [])
    }

    /// `--upstream-concurrency` is the process's total, shared by the loops (rounded up), never
    /// given to each loop: see also UpstreamEngineTests' two-loop test.
    func testTheConfiguredTotalIsSplitOverTheLoops() {
        func slots(_ total: Int, _ loops: Int) -> Int {
            UpstreamService(
                client: UpstreamClient(baseURL: "http://127.0.0.1:1"), maxConcurrency: total, threads: loops,
                queueTimeout: 1, timeout: 1
            ).slotsPerLoop
        }
        XCTAssertEqual(slots(8, 3), 3)
        XCTAssertEqual(slots(8, 1), 8)
        XCTAssertEqual(slots(32, 4), 8)
        XCTAssertEqual(slots(2, 2), 1)
        XCTAssertEqual(slots(1, 4), 1, "every loop may call the upstream")
    }
}
