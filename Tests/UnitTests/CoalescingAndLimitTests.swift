import Foundation
import HTTP
import Locking
import XCTest

@testable import Cache
@testable import Studio
@testable import TestSupport
@testable import Upstream

final class CoalescingAndLimitTests: XCTestCase {
    func testOnlyTheFirstJoinerLeadsAndEveryoneGetsTheResult() {
        let coalescer = Coalescer<Int>()
        let received = Locked<[Int]>([])
        XCTAssertTrue(coalescer.join("k") { value in received.withLock { $0.append(value) } }.isLeader)
        for _ in 0..<9 {
            XCTAssertFalse(coalescer.join("k") { value in received.withLock { $0.append(value) } }.isLeader)
        }
        XCTAssertTrue(coalescer.join("other") { _ in }.isLeader)
        coalescer.complete("k", with: 42)
        XCTAssertEqual(received.withLock { $0 }, Array(repeating: 42, count: 10))
        XCTAssertTrue(coalescer.join("k") { _ in }.isLeader, "nothing is remembered after delivery")
    }

    func testTheWorkIsCancelledOnlyWhenTheLastCallerLeaves() {
        let coalescer = Coalescer<Int>()
        let cancelled = Locked(0)
        let received = Locked<[Int]>([])
        let leader = coalescer.join("k") { _ in XCTFail("the leader left") }
        let waiter = coalescer.join("k") { value in received.withLock { $0.append(value) } }
        coalescer.onAbandoned("k") { cancelled.withLock { $0 += 1 } }
        XCTAssertTrue(coalescer.leave("k", leader))
        XCTAssertEqual(cancelled.withLock { $0 }, 0, "one caller still waits")
        coalescer.complete("k", with: 7)
        XCTAssertEqual(received.withLock { $0 }, [7])
        XCTAssertFalse(coalescer.leave("k", waiter), "the result was already delivered")

        let alone = coalescer.join("j") { _ in XCTFail("nobody is left to answer") }
        coalescer.onAbandoned("j") { cancelled.withLock { $0 += 1 } }
        XCTAssertTrue(coalescer.leave("j", alone))
        XCTAssertEqual(cancelled.withLock { $0 }, 1)
        coalescer.complete("j", with: 1)
    }

    func testRetryableOutcomes() {
        XCTAssertTrue(UpstreamService.isRetryable(.success(UpstreamResponse(status: 429, headers: [:], body: []))))
        XCTAssertTrue(UpstreamService.isRetryable(.failure(.unreachable("reset"))))
        XCTAssertFalse(UpstreamService.isRetryable(.success(UpstreamResponse(status: 500, headers: [:], body: []))))
        XCTAssertFalse(UpstreamService.isRetryable(.failure(.timeout)))
        XCTAssertFalse(UpstreamService.isRetryable(.failure(.cancelled)))
        XCTAssertFalse(UpstreamService.isRetryable(.failure(.bodyTooLarge(limit: 1))))
    }
}
