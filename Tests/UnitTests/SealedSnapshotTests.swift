import Compression
import Foundation
import XCTest

@testable import Cache
@testable import Sealing
@testable import Studio
@testable import TestSupport

/// Issue 27: with `--data-key` every snapshot record is sealed (its key's text as associated data).
final class SealedSnapshotTests: XCTestCase {
    static let account = "AC" + String(repeating: "a", count: 32)
    static let body = Array(#"{"context": {"flow": {"data": {"secret": "sk_live_0123456789abcdef"}}}}"#.utf8)

    static func sealing(_ keys: String) throws -> SnapshotFile.Sealing {
        let sealer = Sealer(keys: try DataKeys(parsing: keys))
        return SnapshotFile.Sealing(
            seal: { sealer.seal($0, place: $1) }, open: { sealer.open($0, place: $1) })
    }

    static let first = String(repeating: "11", count: 32)
    static let second = String(repeating: "22", count: 32)

    func entries(retainUntil: Double = .infinity) -> [(CacheKey, CachedResponse)] {
        (0..<3).map { index in
            let execution = "FN" + String(format: "%032x", index)
            return (
                CacheKey(
                    account: Self.account, resource: "/v2/Flows/FW/Executions/\(execution)/Context",
                    group: testGroup(execution)),
                CachedResponse(
                    status: 200, contentType: "application/json", requestID: nil,
                    gzipBody: Zlib.compress(Self.body, format: .gzip, level: 6), identityLength: Self.body.count,
                    account: Self.account, storedAt: 1, expiresAt: nil, retainUntil: retainUntil)
            )
        }
    }

    func testASealedFileHoldsNoBodyByteNorAccountAndOpensWithEveryKeyOfARotation() throws {
        let bytes = SnapshotFile.encode(entries(), now: 10, wallNow: 1_000, sealing: try Self.sealing(Self.first))
        let gzip = Zlib.compress(Self.body, format: .gzip, level: 6)
        for secret in [
            Array("sk_live_0123456789abcdef".utf8), Array(Self.account.utf8), Array(gzip.suffix(24)),
            Array("Executions".utf8),
        ] {
            XCTAssertNil(Self.find(secret, in: bytes), String(decoding: secret, as: UTF8.self))
        }
        let clear = SnapshotFile.encode(entries(), now: 10, wallNow: 1_000)
        XCTAssertNotNil(Self.find(Array(Self.account.utf8), in: clear), "the check above can see an account")
        // Rotation: a new key in front seals, the old one still opens what it sealed.
        let rotated = try Self.sealing("\(Self.second),\(Self.first)")
        let (restored, report) = SnapshotFile.decode(bytes, now: 5, wallNow: 1_000, sealing: rotated)
        XCTAssertEqual(report.loaded, 3)
        XCTAssertEqual(restored.first?.1.gzipBody, gzip)
        XCTAssertEqual(restored.first?.0.account, Self.account)
    }

    func testAFileSealedWithAKeyTheGatewayNoLongerHasIsSkippedNotServed() throws {
        let bytes = SnapshotFile.encode(entries(), now: 10, wallNow: 1_000, sealing: try Self.sealing(Self.first))
        let (restored, report) = SnapshotFile.decode(
            bytes, now: 5, wallNow: 1_000, sealing: try Self.sealing(Self.second))
        XCTAssertEqual(restored.count, 0)
        XCTAssertEqual(report.unopened, 3)
        let (none, withoutKey) = SnapshotFile.decode(bytes, now: 5, wallNow: 1_000)
        XCTAssertEqual(none.count, 0)
        XCTAssertTrue(withoutKey.sealedWithoutKey)
    }

    func testATruncatedOrFlippedSealedRecordIsSkippedEvenWithItsCRCMended() throws {
        let sealing = try Self.sealing(Self.first)
        let bytes = SnapshotFile.encode(entries(), now: 10, wallNow: 1_000, sealing: sealing)
        XCTAssertEqual(SnapshotFile.decode(Array(bytes.dropLast(5)), now: 5, sealing: sealing).0.count, 2)
        // Flip one byte inside the first record's sealed body and recompute its CRC: only GCM can tell.
        let start = 8 + 12
        let length = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
        for offset in [start + 10, start + length / 2, start + length - 1] {
            var damaged = bytes
            damaged[offset] ^= 0x01
            let crc = Zlib.crc32(Array(damaged[start..<(start + length)]))
            for index in 0..<4 { damaged[16 + index] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(index))) }
            let (restored, report) = SnapshotFile.decode(damaged, now: 5, wallNow: 1_000, sealing: sealing)
            XCTAssertEqual(restored.count, 2, "offset \(offset)")
            XCTAssertEqual(report.unopened + report.corrupt, 1)
        }
    }

    func testWhatIsPastRetentionIsNeitherWrittenNorRestored() throws {
        let sealing = try Self.sealing(Self.first)
        XCTAssertEqual(
            SnapshotFile.decode(
                SnapshotFile.encode(entries(retainUntil: 10), now: 10, wallNow: 1_000, sealing: sealing), now: 0,
                wallNow: 1_000, sealing: sealing
            ).0.count, 0, "not written")
        // Bound 10 s after now, at wall 1010.
        let bytes = SnapshotFile.encode(entries(retainUntil: 20), now: 10, wallNow: 1_000, sealing: sealing)
        XCTAssertEqual(SnapshotFile.decode(bytes, now: 0, wallNow: 1_009, sealing: sealing).0.first?.1.retainUntil, 1)
        let (late, report) = SnapshotFile.decode(bytes, now: 0, wallNow: 1_010, sealing: sealing)
        XCTAssertEqual(late.count, 0)
        XCTAssertEqual(report.expired, 3)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
