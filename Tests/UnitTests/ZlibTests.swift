import Compression
import XCTest

@testable import TestSupport

final class ZlibTests: XCTestCase {
    func testGzipAndZlibRoundTrip() throws {
        let inputs: [[UInt8]] = [
            [], Array("hello".utf8), Array(repeating: 0x41, count: 200_000),
            (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) },
        ]
        for input in inputs {
            for format in [Zlib.Format.gzip, .zlib] {
                let compressed = Zlib.compress(input, format: format)
                XCTAssertEqual(try Zlib.decompress(compressed, format: format), input)
            }
        }
    }

    func testGzipHasMagicHeaderAndShrinksRepetitiveJSON() {
        let json = Array(String(repeating: #"{"url": "https://studio.twilio.com/v2/Flows"}"#, count: 100).utf8)
        let gzip = Zlib.compress(json)
        XCTAssertEqual(Array(gzip.prefix(2)), [0x1f, 0x8b])
        XCTAssertLessThan(gzip.count, json.count / 10)
    }

    func testCorruptAndTruncatedInputThrow() {
        let compressed = Zlib.compress(Array(repeating: 7, count: 10_000))
        XCTAssertThrowsError(try Zlib.decompress(Array(compressed.prefix(compressed.count / 2))))
        var garbled = compressed
        garbled[12] ^= 0xFF
        XCTAssertThrowsError(try Zlib.decompress(garbled))
        XCTAssertThrowsError(try Zlib.decompress(Array("not compressed".utf8)))
    }

    func testDecompressionBombIsRefused() {
        let bomb = Zlib.compress(Array(repeating: 0, count: 5_000_000))
        XCTAssertThrowsError(try Zlib.decompress(bomb, limit: 1_000_000))
    }
}
