import Foundation
import Locking
import XCTest

@testable import TestSupport

final class LockedTests: XCTestCase {
    /// Threads updating one value through `withLock` lose no update; a throwing body unlocks.
    /// (Under `Tests/Sanitizers/run.sh thread` this is also where TSan must stay quiet.)
    func testUpdatesFromManyThreadsAreAllKeptAndThrowingBodiesUnlock() {
        let counts = Locked<[Int: Int]>([:])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for index in 0..<20_000 { counts.withLock { $0[index % 7, default: 0] += 1 } }
        }
        XCTAssertEqual(counts.withLock { $0.values.reduce(0, +) }, 80_000)
        struct Refused: Error {}
        XCTAssertThrowsError(try counts.withLock { _ in throw Refused() })
        XCTAssertEqual(counts.withLock { $0.count }, 7)  // not deadlocked: the lock was released
    }
}
