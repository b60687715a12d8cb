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
        // A dictionary slot is a 24-byte SID and a 16-byte record (8 of them the contact tags) at
        // a load factor between 3/8 and 3/4.
        // Measured alone: 107 B (RSS, the table's growth included); beside other tests RSS is noisier.
        XCTAssertLessThan(perExecution, 400)
    }
}
