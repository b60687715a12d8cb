import XCTest

@testable import HTTPServer
@testable import TestSupport

/// The pending output without a socket: `markSent` stands for what a gather write took.
final class OutputQueueTests: XCTestCase {
    func makeQueue(maxUnsent: Int = 1000, compactAfter: Int = 64, keep: Int = 256) -> OutputQueue {
        OutputQueue(maxUnsentBytes: maxUnsent, compactionThreshold: compactAfter, keptCapacity: keep)
    }

    /// What the next gather write would send: the head's unsent bytes, then the body's.
    func unsent(_ queue: OutputQueue) -> (head: String, body: String) {
        queue.withUnsentBytes { head, body in
            (String(decoding: head, as: UTF8.self), String(decoding: body, as: UTF8.self))
        }
    }

    func appendResponse(_ queue: inout OutputQueue, head: String, body: [UInt8], bodyFollows: Bool = true) {
        queue.appendResponse(
            head: {
                $0 += Array(head.utf8)
                return bodyFollows
            }, body: body)
    }

    func testAResponseBodyGoesOutAfterItsHeadWithoutBeingCopied() {
        var queue = makeQueue()
        let body = Array("the body".utf8)
        appendResponse(&queue, head: "HEAD|", body: body)
        XCTAssertEqual(unsent(queue).head, "HEAD|")
        XCTAssertEqual(unsent(queue).body, "the body")
        XCTAssertEqual(queue.unsentCount, 13)
        body.withUnsafeBytes { original in
            queue.withUnsentBytes { _, queued in XCTAssertEqual(queued.baseAddress, original.baseAddress) }
        }
    }

    func testABodyTheHeadRulesOutIsNotQueued() {
        var queue = makeQueue()
        appendResponse(&queue, head: "HEAD-only|", body: Array("unsent".utf8), bodyFollows: false)
        XCTAssertEqual(unsent(queue).head, "HEAD-only|")
        XCTAssertEqual(unsent(queue).body, "")
    }

    func testPartialSendsMoveFromTheHeadIntoTheBody() {
        var queue = makeQueue()
        appendResponse(&queue, head: "HEAD|", body: Array("body".utf8))
        queue.markSent(3)
        XCTAssertEqual(unsent(queue).head, "D|")
        queue.markSent(3)
        XCTAssertEqual(unsent(queue).head, "")
        XCTAssertEqual(unsent(queue).body, "ody")
        XCTAssertTrue(queue.hasUnsentBytes)
        queue.markSent(3)
        XCTAssertFalse(queue.hasUnsentBytes)
        XCTAssertEqual(queue.unsentCount, 0)
    }

    /// Whatever is queued behind a body that is not fully sent takes the body's unsent part with it
    /// into the head first, so bytes go out in the order they were queued.
    func testWhatIsQueuedBehindABodyFollowsItsUnsentPart() {
        var queue = makeQueue()
        appendResponse(&queue, head: "H1|", body: Array("0123456789".utf8))
        queue.markSent(3 + 4)
        queue.append(Array("|NEXT".utf8))
        XCTAssertEqual(unsent(queue).head, "456789|NEXT")
        XCTAssertEqual(unsent(queue).body, "")
        appendResponse(&queue, head: "|H2|", body: Array("second".utf8))
        XCTAssertEqual(unsent(queue).head, "456789|NEXT|H2|")
        XCTAssertEqual(unsent(queue).body, "second")
    }

    func testSentBytesAreDroppedOnceTheyAreManyAndHalfTheHead() {
        var queue = makeQueue(compactAfter: 64)
        queue.append([UInt8](repeating: 1, count: 100))
        queue.markSent(50)
        XCTAssertEqual(queue.headSent, 50, "fewer than the threshold: kept")
        queue.markSent(14)
        XCTAssertEqual(queue.headSent, 0, "64 sent of 100: dropped")
        XCTAssertEqual(queue.head.count, 36)

        var mostlyUnsent = makeQueue(compactAfter: 64)
        mostlyUnsent.append([UInt8](repeating: 1, count: 200))
        mostlyUnsent.markSent(70)
        XCTAssertEqual(mostlyUnsent.headSent, 70, "less than half of the head: not worth moving the rest")
    }

    func testOnceEverythingIsSentASmallBufferIsKeptAndALargeOneFreed() {
        var queue = makeQueue(keep: 256)
        queue.append([UInt8](repeating: 1, count: 100))
        queue.markSent(100)
        XCTAssertTrue(queue.head.isEmpty)
        XCTAssertGreaterThanOrEqual(queue.head.capacity, 100, "kept for the next answer")
        queue.append([UInt8](repeating: 1, count: 1000))
        queue.markSent(1000)
        XCTAssertEqual(queue.head.capacity, 0, "a large buffer is not kept")
        appendResponse(&queue, head: "H|", body: Array("body".utf8))
        queue.markSent(6)
        XCTAssertEqual(unsent(queue).body, "", "the body is let go too")
    }

    /// The cap counts unsent bytes only, and a single answer larger than it is still queued whole.
    func testTheCapCountsUnsentBytes() {
        var queue = makeQueue(maxUnsent: 10)
        appendResponse(&queue, head: "H|", body: Array("123456789".utf8))
        XCTAssertEqual(queue.unsentCount, 11)
        XCTAssertTrue(queue.isFull)
        queue.markSent(1)
        XCTAssertFalse(queue.isFull, "10 unsent is not more than 10")
    }

    func testDropForgetsEverything() {
        var queue = makeQueue()
        appendResponse(&queue, head: "H|", body: Array("body".utf8))
        queue.drop()
        XCTAssertFalse(queue.hasUnsentBytes)
        XCTAssertEqual(unsent(queue).head, "")
        XCTAssertEqual(unsent(queue).body, "")
    }
}
