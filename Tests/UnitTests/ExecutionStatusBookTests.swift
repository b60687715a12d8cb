import XCTest

@testable import Cache
@testable import Studio
@testable import TestSupport

/// Issue 27: what the book learns per execution (creation time, contact tags) and what it costs.
final class ExecutionStatusBookTests: XCTestCase {
    static func execution(_ number: Int) -> SID { SID("FN" + String(format: "%032x", number), prefix: "FN")! }

    func testItFindsAContactsExecutionsByTheContactOrTheAddressAndKeepsTheEarliestCreation() {
        let book = ExecutionStatusBook()
        let contact = ExecutionContact(sid: "FC" + String(repeating: "1", count: 32), address: "+15550001111")
        book.learn(Self.execution(1), created: 1_000, contact: contact)
        book.learn(Self.execution(2), created: 2_000, contact: ExecutionContact(sid: contact.sid))
        book.learn(
            Self.execution(3), created: 3_000, contact: ExecutionContact(sid: "FC" + String(repeating: "2", count: 32)))
        XCTAssertEqual(
            Set(book.executions(of: ExecutionContact(sid: contact.sid))), [Self.execution(1), Self.execution(2)])
        XCTAssertEqual(book.executions(of: ExecutionContact(address: "+15550001111")), [Self.execution(1)])
        book.learn(Self.execution(1), created: 5_000, contact: ExecutionContact())
        XCTAssertEqual(book.created(Self.execution(1)), 1_000, "a later date never lengthens a life")
        book.markEnded(Self.execution(1))
        XCTAssertTrue(book.isEnded(Self.execution(1)))
        book.forget(Self.execution(1))
        XCTAssertNil(book.created(Self.execution(1)))
    }

    /// The compact table: forgetting moves the last record into the hole, and every other
    /// execution stays findable with what was learnt of it; full, the book starts over; only
    /// executions are kept.
    func testForgettingAndStartingOverKeepEveryOtherRecordIntact() {
        let book = ExecutionStatusBook(capacity: 1_000)
        for number in 0..<1_000 {
            book.learn(Self.execution(number), created: 1_700_000_000 + Int64(number), contact: ExecutionContact())
        }
        for number in stride(from: 0, to: 1_000, by: 3) { book.forget(Self.execution(number)) }
        for number in 0..<1_000 {
            XCTAssertEqual(
                book.created(Self.execution(number)), number % 3 == 0 ? nil : 1_700_000_000 + Double(number),
                "\(number)")
        }
        XCTAssertEqual(book.count, 666)
        book.markEnded(Self.execution(1))
        XCTAssertTrue(book.isEnded(Self.execution(1)))
        XCTAssertEqual(book.created(Self.execution(1)), 1_700_000_001, "the ended flag leaves the creation time")
        for number in 1_000..<1_334 { book.markEnded(Self.execution(number)) }
        XCTAssertEqual(book.count, 1_000)
        book.markEnded(Self.execution(5_000))
        XCTAssertEqual(book.count, 1, "full, the book starts over")
        XCTAssertFalse(book.isEnded(Self.execution(1)))
        let flow = SID("FW" + String(repeating: "1", count: 32), prefix: "FW")!
        book.markEnded(flow)
        XCTAssertFalse(book.isEnded(flow), "only executions are kept")
        XCTAssertEqual(MemoryLayout<ExecutionStatusBook.Record>.stride, 28)
    }

    /// Resident bytes per known execution (RSS before and after, 200k executions with a creation time, a contact
    /// SID and an address): the whole record, and the share of the erasure index (the two tags).
    func testWhatOneKnownExecutionCosts() throws {
        let count = 200_000
        let sids = (0..<count).map(Self.execution)
        let contact = ExecutionContact(sid: "FC" + String(repeating: "1", count: 32), address: "+15550001111")
        let before = try RunningBinary.residentKiB(process: "self")
        let book = ExecutionStatusBook(capacity: 10 * count)
        for sid in sids { book.learn(sid, created: 1_000, contact: contact) }
        let perExecution = Double(try RunningBinary.residentKiB(process: "self") - before) * 1024 / Double(count)
        print("ExecutionStatusBook: \(perExecution) B per known execution (\(count))")
        XCTAssertEqual(book.count, count)
        // A 28-byte record (8 of them the contact tags) in a dense array and a 4-byte place at a
        // load factor between 3/8 and 3/4. Measured alone: see docs/BENCHMARKS.md (was 107 B with
        // a `[SID: Record]` dictionary); beside other tests RSS is noisier, so the bound is loose.
        XCTAssertLessThan(perExecution, 200)
    }
}
