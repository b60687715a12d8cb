import XCTest

@testable import Sealing

/// AES-256-GCM sealing: what opens, what does not (another key, another place, one changed byte,
/// a truncated value), rotation, fresh nonces, and keys that never print.
final class SealerTests: XCTestCase {
    static let keyA = String(repeating: "a1", count: 32)
    static let keyB = String(repeating: "0b", count: 32)

    func sealer(_ text: String) throws -> Sealer { Sealer(keys: try DataKeys(parsing: text)) }

    func testASealedValueOpensOnlyWithItsKeyAndPlace() throws {
        let sealer = try sealer(Self.keyA)
        let plaintext = Array(#"{"account_sid": "ACaaaa", "context": {"phone": "+15551234567"}}"#.utf8)
        let sealed = sealer.seal(plaintext, place: Array("e:one".utf8))
        XCTAssertEqual(sealed.count, plaintext.count + Sealer.overhead)
        XCTAssertNil(sealed.firstRange(of: Array("+1555".utf8)), "nothing of the plaintext is readable")
        XCTAssertEqual(sealer.open(sealed, place: Array("e:one".utf8)), plaintext)
        XCTAssertNil(sealer.open(sealed, place: Array("e:two".utf8)), "moved to another place")
        XCTAssertNil(try self.sealer(Self.keyB).open(sealed, place: Array("e:one".utf8)), "another key")
        for index in sealed.indices {
            var flipped = sealed
            flipped[index] ^= 0x01
            XCTAssertNil(sealer.open(flipped, place: Array("e:one".utf8)), "byte \(index) changed")
        }
        XCTAssertNil(sealer.open(Array(sealed.dropLast()), place: Array("e:one".utf8)), "truncated")
        XCTAssertNil(sealer.open([], place: []), "empty")
        XCTAssertEqual(sealer.open(sealer.seal([], place: []), place: []), [], "an empty value round-trips")
    }

    func testEverySealHasAFreshNonce() throws {
        let sealer = try sealer(Self.keyA)
        let sealed = (0..<100).map { _ in sealer.seal([1, 2, 3], place: []) }
        XCTAssertEqual(Set(sealed.map { $0[5..<17] }).count, 100)
    }

    func testRotationTheFirstKeySealsEveryKeyOpens() throws {
        let old = try sealer(Self.keyA)
        let rotated = try sealer("\(Self.keyB), \(Self.keyA)")
        let sealedBefore = old.seal([42], place: [7])
        XCTAssertEqual(rotated.open(sealedBefore, place: [7]), [42], "values sealed with the old key still open")
        let sealedAfter = rotated.seal([43], place: [7])
        XCTAssertEqual(Array(sealedAfter[1..<5]), rotated.keys.sealing.fingerprint)
        XCTAssertNil(old.open(sealedAfter, place: [7]), "the old key alone does not open the new key's values")
        XCTAssertEqual(try sealer(Self.keyB).open(sealedAfter, place: [7]), [43])
    }

    func testKeysAreCheckedAndNeverPrinted() throws {
        for bad in ["", "abc", String(repeating: "g", count: 64), String(repeating: "a", count: 63), Self.keyA + ","] {
            XCTAssertThrowsError(try DataKeys(parsing: bad), bad)
        }
        let keys = try DataKeys(parsing: "\(Self.keyA),\(Self.keyB.uppercased())")
        XCTAssertEqual(keys.keys.count, 2)
        let printed = "\(keys) \(keys.sealing.id)"
        XCTAssertFalse(printed.lowercased().contains("a1a1a1"), printed)
        XCTAssertFalse(printed.lowercased().contains("0b0b0b"), printed)
        XCTAssertTrue(printed.contains("2 data keys"), printed)
    }

    func testHMACSHA256MatchesRFC4231() {
        // RFC 4231 test case 2.
        let mac = HMACSHA256.mac(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        XCTAssertEqual(
            mac.map { String(format: "%02x", $0) }.joined(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}
