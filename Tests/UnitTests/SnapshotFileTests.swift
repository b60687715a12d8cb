import Foundation
import HTTP
import Locking
import XCTest

@testable import Cache
@testable import Studio
@testable import TestSupport
@testable import Upstream

final class SnapshotFileTests: XCTestCase {
    func sample(_ index: Int) -> (CacheKey, CachedResponse) {
        (
            CacheKey(account: "ACa", resource: "/v2/Flows/FW/Executions/FN\(index)", group: testGroup("FN\(index)")),
            CachedResponse(
                status: 200, contentType: "application/json", requestID: index % 2 == 0 ? "RQ\(index)" : nil,
                gzipBody: [UInt8](repeating: UInt8(index), count: 10 + index), identityLength: 99, account: "ACa",
                storedAt: 1, expiresAt: nil, engagementGzip: index == 1 ? [1, 2, 3] : nil)
        )
    }

    func testRoundTrip() {
        let entries = (0..<5).map(sample)
        let (restored, report) = SnapshotFile.decode(SnapshotFile.encode(entries), now: 42)
        XCTAssertEqual(report, SnapshotFile.LoadReport(loaded: 5))
        XCTAssertEqual(restored.map(\.0), entries.map(\.0))
        for ((_, a), (_, b)) in zip(restored, entries) {
            XCTAssertEqual(a.gzipBody, b.gzipBody)
            XCTAssertEqual(a.requestID, b.requestID)
            XCTAssertEqual(a.engagementGzip, b.engagementGzip)
            XCTAssertEqual(a.storedAt, 42)
            XCTAssertTrue(a.isPermanent)
        }
    }

    func testEveryDamageIsSurvived() {
        let bytes = SnapshotFile.encode((0..<5).map(sample))
        for cut in 0..<bytes.count {
            let (entries, report) = SnapshotFile.decode(Array(bytes.prefix(cut)), now: 0)
            XCTAssertLessThanOrEqual(entries.count, 5)
            XCTAssertEqual(report.loaded, entries.count)
        }
        for index in 0..<bytes.count {
            var damaged = bytes
            damaged[index] ^= 0x5A
            let (entries, _) = SnapshotFile.decode(damaged, now: 0)
            XCTAssertGreaterThanOrEqual(
                entries.count, index < 8 ? 0 : 4, "one flipped byte (at \(index)) loses at most one record")
        }
    }
}
