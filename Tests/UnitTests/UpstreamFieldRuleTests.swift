import XCTest

@testable import HTTP
@testable import Studio

/// Issue 27: header values from the upstream reach clients as visible ASCII or not at all; a
/// request id must be `RQ` + 32 hex digits. And Studio dates are read without Foundation.
final class UpstreamFieldRuleTests: XCTestCase {
    func keeps(_ name: String, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { UpstreamFieldRule.keeps(name, value: $0) }
    }

    func testControlAndNonASCIIBytesAndMalformedRequestIDsAreDropped() {
        let id = "RQ" + String(repeating: "0123456789abcdef", count: 2)
        XCTAssertTrue(keeps("Twilio-Request-Id", Array(id.utf8)))
        XCTAssertTrue(keeps("Twilio-Request-Id", Array(id.uppercased().utf8)))
        XCTAssertFalse(keeps("Twilio-Request-Id", [0x52, 0x51, 0xFF, 0xFE, 0x01, 0x78]), "RQ\\xff\\xfe\\x01x")
        XCTAssertFalse(keeps("Twilio-Request-Id", Array((id + "0").utf8)), "over-long")
        XCTAssertFalse(keeps("Twilio-Request-Id", Array(id.dropLast().utf8)), "short")
        XCTAssertFalse(keeps("Twilio-Request-Id", Array(("RQ" + String(repeating: "g", count: 32)).utf8)))
        XCTAssertTrue(keeps("Content-Type", Array("application/json; charset=utf-8".utf8)))
        XCTAssertTrue(keeps("WWW-Authenticate", Array(#"Basic realm="Twilio API""#.utf8)))
        for bad: UInt8 in [0x00, 0x01, 0x0A, 0x0D, 0x1F, 0x7F, 0x80, 0xC3, 0xFF] {
            XCTAssertFalse(keeps("Content-Type", Array("application/json".utf8) + [bad]), "byte \(bad)")
            XCTAssertFalse(keeps("WWW-Authenticate", [bad] + Array("Basic".utf8)), "byte \(bad)")
        }
        XCTAssertFalse(keeps("Content-Type", Array("application/jsön".utf8)), "UTF-8 is not ASCII")
    }

    func testStudioDatesAreReadByHand() {
        XCTAssertEqual(StudioDate.seconds("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(StudioDate.seconds("2019-05-11T12:00:00Z"), 1_557_576_000)
        XCTAssertEqual(StudioDate.seconds("2024-02-29T23:59:59Z"), 1_709_251_199)
        XCTAssertEqual(StudioDate.seconds("2019-05-11T12:00:00.250Z"), 1_557_576_000)
        for bad in [
            "2019-05-11", "2019-05-11T12:00:00", "2023-02-29T00:00:00Z", "2019-13-01T00:00:00Z",
            "2019-05-11 12:00:00Z", "20x9-05-11T12:00:00Z", "2019-05-11T24:00:00Z", "",
        ] {
            XCTAssertNil(StudioDate.seconds(bad), bad)
        }
    }
}
