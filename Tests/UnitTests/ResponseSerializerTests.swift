import HTTP
import XCTest

@testable import TestSupport

final class ResponseSerializerTests: XCTestCase {
    let date = "Tue, 24 Nov 2026 06:00:00 GMT"

    func text(_ response: HTTPResponse, headOnly: Bool = false, close: Bool = false) -> String {
        String(
            decoding: ResponseSerializer.serialize(response, headOnly: headOnly, close: close, date: date),
            as: UTF8.self)
    }

    func testFramingIsTheServersAndBodyFollowsTheHead() {
        let response = HTTPResponse(
            status: 200,
            headers: [
                "Content-Type": "application/json", "content-length": "999",
                "Transfer-Encoding": "chunked", "Connection": "upgrade", "DATE": "x",
            ], text: "{}")
        XCTAssertEqual(
            text(response, close: true),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: \(date)\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        XCTAssertEqual(
            text(response, headOnly: true),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: \(date)\r\nContent-Length: 2\r\n\r\n")
    }

    /// Issue 18 #8: `Connection: keep-alive` for HTTP/1.0 keep-alive answers; `close` wins.
    func testKeepAliveIsAnnouncedWhenAsked() {
        let response = HTTPResponse(status: 200, text: "x")
        XCTAssertEqual(
            String(
                decoding: ResponseSerializer.serialize(
                    response, headOnly: false, close: false, keepAlive: true, date: date), as: UTF8.self),
            "HTTP/1.1 200 OK\r\nDate: \(date)\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nx")
        XCTAssertTrue(
            String(
                decoding: ResponseSerializer.serialize(
                    response, headOnly: false, close: true, keepAlive: true, date: date), as: UTF8.self
            )
            .contains("Connection: close\r\n\r\n"))
    }

    func testCRAndLFCannotSplitTheResponse() {
        let response = HTTPResponse(
            status: 404, headers: ["X-A": "one\r\nSet-Cookie: evil=1", "X-B\r\nInjected": "v\n"], text: "")
        let serialized = text(response)
        XCTAssertTrue(serialized.contains("X-A: oneSet-Cookie: evil=1\r\n"))
        XCTAssertTrue(serialized.contains("X-BInjected: v\r\n"))
        XCTAssertEqual(serialized.components(separatedBy: "\r\n").filter { $0.hasPrefix("Set-Cookie") }.count, 0)
    }

    /// A cached entry's answer: its rendered blocks follow the dynamic fields, then Age, then the
    /// server's framing. Rendering drops line breaks and framing fields once, when the block is made.
    func testRenderedFieldsAndAgeAreCopiedIntoTheHead() {
        let entry = RenderedFields(
            ["Content-Type": "application/json", "Twilio-Request-Id": "RQ1\r\nSet-Cookie: x", "Content-Length": "9"])
        let outcome = RenderedFields(["X-Cache": "HIT"])
        var response = HTTPResponse(status: 200, headers: ["X-Dynamic": "1"], text: "{}")
        response.rendered = (entry, outcome)
        response.age = 42
        XCTAssertEqual(
            text(response),
            "HTTP/1.1 200 OK\r\nX-Dynamic: 1\r\nContent-Type: application/json\r\nTwilio-Request-Id: RQ1Set-Cookie: x\r\n"
                + "X-Cache: HIT\r\nAge: 42\r\nDate: \(date)\r\nContent-Length: 2\r\n\r\n{}")
        XCTAssertEqual(entry.value("twilio-request-id"), "RQ1Set-Cookie: x")
        XCTAssertEqual(entry.value("Content-Type"), "application/json")
        XCTAssertNil(entry.value("Content-Length"))
        XCTAssertNil(entry.value("Content"))
        XCTAssertEqual(
            response.allFields.map(\.name), ["X-Dynamic", "Content-Type", "Twilio-Request-Id", "X-Cache", "Age"])
        XCTAssertEqual(response.allFields["Age"], "42")
        XCTAssertEqual(RenderedFields.none.fields.count, 0)
        let id = Array("RQ42".utf8)
        response.inlineField = id.withUnsafeBytes { InlineField(name: "Twilio-Request-Id", value: $0) }
        XCTAssertTrue(
            text(response).contains(
                "Twilio-Request-Id: RQ1Set-Cookie: x\r\nTwilio-Request-Id: RQ42\r\nX-Cache: HIT\r\n"))
        XCTAssertEqual(response.allFields.values("Twilio-Request-Id"), ["RQ1Set-Cookie: x", "RQ42"])
        XCTAssertNil(Array("a\r\nb".utf8).withUnsafeBytes { InlineField(name: "X", value: $0) })
        XCTAssertNil([UInt8](repeating: 0x41, count: 41).withUnsafeBytes { InlineField(name: "X", value: $0) })
        XCTAssertNil(RenderedFields.none.value("Age"))
    }

    func testNoBodyStatusesAndUnknownStatusesAndAppending() {
        XCTAssertEqual(
            text(HTTPResponse(status: 204, text: "ignored")), "HTTP/1.1 204 No Content\r\nDate: \(date)\r\n\r\n")
        XCTAssertTrue(text(HTTPResponse(status: 418)).hasPrefix("HTTP/1.1 418 Status 418\r\n"))
        var out = Array("earlier".utf8)
        ResponseSerializer.serialize(
            HTTPResponse(status: 200, text: "x"), into: &out, headOnly: false, close: false, date: date)
        XCTAssertEqual(
            String(decoding: out, as: UTF8.self),
            "earlierHTTP/1.1 200 OK\r\nDate: \(date)\r\nContent-Length: 1\r\n\r\nx")
    }

    /// The line-break scan reads eight bytes at a time: a CR or LF in any position, in a word or
    /// in the tail, is dropped; tabs and other low bytes stay.
    func testLineBreaksAreFoundInEveryPosition() {
        for length in 1...20 {
            for position in 0..<length {
                for breaker in ["\r", "\n"] {
                    var value = Array(repeating: "a", count: length)
                    value[position] = breaker
                    value[(position + 1) % length] = length > 1 ? "\t" : value[(position + 1) % length]
                    let response = HTTPResponse(status: 200, headers: ["X-V": value.joined()], text: "")
                    let expected = value.joined().replacingOccurrences(of: breaker, with: "")
                    XCTAssertTrue(
                        text(response).contains("X-V: \(expected)\r\nDate:"), "length \(length), position \(position)")
                }
            }
        }
        let long = String(repeating: "0123456789", count: 30)
        XCTAssertTrue(
            text(HTTPResponse(status: 200, headers: ["X-Long": long], text: "")).contains("X-Long: \(long)\r\n"))
        let body = [UInt8](repeating: 0x61, count: 1_234_567)
        XCTAssertTrue(
            text(HTTPResponse(status: 200, body: body), headOnly: true).hasSuffix("Content-Length: 1234567\r\n\r\n"))
    }
}
