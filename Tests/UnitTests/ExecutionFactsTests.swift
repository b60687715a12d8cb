import Foundation
import HTTP
import Locking
import XCTest

@testable import Cache
@testable import Studio
@testable import TestSupport
@testable import Upstream

final class ExecutionFactsTests: XCTestCase {
    func testFactsFromBodies() {
        let execution = ExecutionFacts(
            body: Array(
                #"{"sid": "FN1", "account_sid": "ACa", "status": "ended", "context": {"big": 18446744073709551617, "status": "active"}}"#
                    .utf8))
        XCTAssertEqual(execution, ExecutionFacts(account: "ACa", status: "ended"))
        let list = ExecutionFacts(
            body: Array(
                #"{"meta": {}, "executions": [{"sid": "FN1", "account_sid": "ACa", "status": "ended"}, {"sid": "FN2", "account_sid": "ACa", "status": "active"}]}"#
                    .utf8))
        XCTAssertEqual(list?.account, "ACa")
        XCTAssertEqual(list?.items.map(\.sid), ["FN1", "FN2"])
        XCTAssertNil(ExecutionFacts(body: Array(#"{"meta": {}, "executions": []}"#.utf8))?.account)
        XCTAssertNil(
            ExecutionFacts(
                body: Array(
                    #"{"executions": [{"sid": "FN1", "account_sid": "ACa"}, {"sid": "FN2", "account_sid": "ACb"}]}"#
                        .utf8))?.account)
        XCTAssertNil(ExecutionFacts(body: Array("<html>".utf8)))
    }
}
