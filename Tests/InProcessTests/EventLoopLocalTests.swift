import Dispatch
import Locking
import XCTest

@testable import EventLoop
@testable import TestSupport

/// State another layer keeps on a loop (`EventLoop.local`) belongs to its owner, not to whatever
/// object later gets the owner's address.
final class EventLoopLocalTests: XCTestCase {
    private final class Owner {}

    private final class State: LoopLocal, @unchecked Sendable {  // loop thread only
        let tag: Int
        var stopped = false
        init(tag: Int) { self.tag = tag }
        func loopDidStop() { stopped = true }
    }

    func testADeadOwnersStateIsFreedNotHandedToTheNextOwnerAtItsAddress() throws {
        let group = try EventLoopGroup(threads: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let outcome = Locked<(reused: Bool, tag: Int, firstStopped: Bool, sameOwnerAgain: Bool)?>(nil)
        let done = DispatchSemaphore(value: 0)
        loop.execute {
            var first: State?
            var firstAddress: ObjectIdentifier?
            do {
                let owner = Owner()
                firstAddress = ObjectIdentifier(owner)
                first = loop.local(for: owner) { State(tag: 1) }
            }
            // The allocator hands a freed block of the same size back first: find the new owner at
            // the dead one's address (a few tries, keeping the misses alive so they differ).
            var misses: [Owner] = []
            var second = Owner()
            while ObjectIdentifier(second) != firstAddress, misses.count < 64 {
                misses.append(second)
                second = Owner()
            }
            let state = loop.local(for: second) { State(tag: 2) }
            let again = loop.local(for: second) { State(tag: 3) }
            outcome.withLock {
                $0 = (ObjectIdentifier(second) == firstAddress, state.tag, first!.stopped, again === state)
            }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        let result = try XCTUnwrap(outcome.withLock { $0 })
        XCTAssertTrue(result.reused, "no owner was given the dead owner's address: the test proves nothing")
        XCTAssertEqual(result.tag, 2, "the dead owner's state was handed to a new owner")
        XCTAssertTrue(result.firstStopped, "the dead owner's state was dropped without being told")
        XCTAssertTrue(result.sameOwnerAgain, "the same owner gets its state back")
    }
}
