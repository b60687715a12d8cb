import Foundation
import HTTP
import Locking
import XCTest

@testable import Cache
@testable import Studio
@testable import TestSupport
@testable import Upstream

final class InflatedBodiesTests: XCTestCase {
    func entry() -> CachedResponse {
        CachedResponse(
            status: 200, contentType: nil, requestID: nil, gzipBody: [1], identityLength: 100, account: "ACa",
            storedAt: 0, expiresAt: nil)
    }

    func testInflatesOncePerViewAndStaysWithinBudget() {
        let set = InflatedBodies(budget: 1600)
        let hot = entry()
        var inflations = 0
        for _ in 0..<5 {
            XCTAssertEqual(
                set.body(of: hot, engagementView: false) {
                    inflations += 1
                    return [UInt8](repeating: 7, count: 100)
                }.count, 100)
        }
        XCTAssertEqual(inflations, 1)
        _ = set.body(of: hot, engagementView: true) {
            inflations += 1
            return [UInt8](repeating: 8, count: 100)
        }
        XCTAssertEqual(inflations, 2, "the Engagement view is a different body")
        for _ in 0..<100 { _ = set.body(of: entry(), engagementView: false) { [UInt8](repeating: 1, count: 100) } }
        XCTAssertLessThanOrEqual(set.bytes, 1600)
        XCTAssertEqual(
            set.body(of: entry(), engagementView: false) { [UInt8](repeating: 1, count: 1000) }.count, 1000,
            "too large to keep, still answered")
    }
}
