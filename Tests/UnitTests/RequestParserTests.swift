import XCTest

@testable import HTTP
@testable import TestSupport

/// Feeds bytes to the parser the way a connection does: keep unconsumed bytes, append more.
struct ParserHarness {
    var parser: RequestParser
    var buffer: [UInt8] = []
    var requests: [HTTPRequest] = []
    var continues = 0
    var error: HTTPParseError?

    init(limits: HTTPLimits = HTTPLimits()) { parser = RequestParser(limits: limits) }

    mutating func feed<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        while error == nil {
            let (consumed, event) = buffer.withUnsafeBytes { parser.parse($0) }
            buffer.removeFirst(consumed)
            switch event {
            case .needMoreData: return
            case .headReceived(let expects): if expects { continues += 1 }
            case .request(let request): requests.append(request)
            case .failed(let failure): error = failure
            }
        }
    }

    mutating func feed(_ text: String) { feed(Array(text.utf8)) }

    static func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) -> ParserHarness {
        var harness = ParserHarness(limits: limits)
        harness.feed(text)
        return harness
    }
}

final class RequestParserTests: XCTestCase {
    func testSimpleGetKeepsHeaderOrderAndCase() {
        let h = ParserHarness.parse(
            "GET /v2/Flows?PageSize=5 HTTP/1.1\r\nHost: gw\r\nX-B: 2\r\nx-a: 1\r\nAuthorization: Basic abc\r\n\r\n")
        XCTAssertNil(h.error)
        XCTAssertEqual(h.requests.count, 1)
        let request = h.requests[0]
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.target, "/v2/Flows?PageSize=5")
        XCTAssertEqual(request.version, .http11)
        XCTAssertEqual(request.headers.fields.map(\.name), ["Host", "X-B", "x-a", "Authorization"])
        XCTAssertEqual(request.headers["X-A"], "1")
        XCTAssertTrue(request.keepAlive)
        XCTAssertTrue(request.body.isEmpty)
    }

    func testPipelinedRequestsComeOutInOrder() {
        let h = ParserHarness.parse(
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        XCTAssertNil(h.error)
        XCTAssertEqual(h.requests.map(\.target), ["/a", "/b", "/c"])
        XCTAssertEqual(h.requests[1].body, Array("abc".utf8))
    }

    func testByteAtATimeFeedingGivesTheSameRequests() {
        let text =
            "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer-A: z\r\n\r\nGET /y HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok"
        var h = ParserHarness()
        for byte in text.utf8 { h.feed([byte]) }
        XCTAssertNil(h.error)
        XCTAssertEqual(h.requests.map(\.target), ["/x", "/y"])
        XCTAssertEqual(String(decoding: h.requests[0].body, as: UTF8.self), "Wikipedia")
        XCTAssertEqual(h.requests[1].body, Array("ok".utf8))
    }

    func testLeadingEmptyLinesAreIgnored() {
        let h = ParserHarness.parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertNil(h.error)
        XCTAssertEqual(h.requests.count, 1)
    }

    /// Issue 18 #3: empty lines before a request line are ignored (RFC 9112 §2.2) but bounded, per
    /// request, however they are split.
    func testEmptyLinesBeforeARequestAreBounded() {
        let limit = HTTPLimits().maxEmptyLines
        let request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        let allowed = String(repeating: "\r\n", count: limit)
        let h = ParserHarness.parse(allowed + request + allowed + request)
        XCTAssertNil(h.error)
        XCTAssertEqual(h.requests.count, 2)
        var drip = ParserHarness()
        for _ in 0...limit { drip.feed("\r\n") }
        XCTAssertEqual(drip.error?.status, 400)
        var split = ParserHarness()
        for byte in (String(repeating: "\r\n", count: limit + 1) + request).utf8 { split.feed([byte]) }
        XCTAssertEqual(split.error?.status, 400)
        XCTAssertEqual(split.requests.count, 0)
    }

    func testKeepAliveRules() {
        XCTAssertFalse(
            ParserHarness.parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").requests[0].keepAlive)
        XCTAssertFalse(ParserHarness.parse("GET / HTTP/1.0\r\n\r\n").requests[0].keepAlive)
        XCTAssertTrue(ParserHarness.parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").requests[0].keepAlive)
    }

    /// The fields live in one buffer of `name:value` lines; every way of reading them agrees with
    /// the list the client sent, obs-text included (repaired only when read as strings).
    func testFieldsAreReadInPlaceAndAsAList() {
        let request = ParserHarness.parse(
            "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br ,  GZIP;q=0.5\r\nX-Empty:\r\n"
                + "Connection: Keep-Alive, Upgrade\r\nX-Obs: caf\u{E9} \t\r\nauthorization:  Basic abc: def \r\n\r\n"
        ).requests[0]
        XCTAssertEqual(
            request.headers.fields.map(\.name),
            ["Host", "Accept-Encoding", "X-Empty", "Connection", "X-Obs", "authorization"])
        XCTAssertEqual(request.field("Authorization"), "Basic abc: def")
        XCTAssertEqual(request.field("x-empty"), "")
        XCTAssertEqual(request.field("X-Obs"), "caf\u{E9}")
        XCTAssertNil(request.field("Cookie"))
        var seen: [UInt8] = []
        XCTAssertTrue(request.withField("AUTHORIZATION") { seen = Array($0) })
        XCTAssertEqual(String(decoding: seen, as: UTF8.self), "Basic abc: def")
        XCTAssertFalse(request.withField("Authorizatio") { _ in XCTFail("a prefix is not the name") })
        XCTAssertTrue(request.containsToken(in: "accept-encoding") { HTTPRequest.tokenEquals($0, "gzip;q=0.5") })
        XCTAssertTrue(request.containsToken(in: "Accept-Encoding") { HTTPRequest.tokenEquals($0, "br") })
        XCTAssertFalse(request.containsToken(in: "Accept-Encoding") { $0.isEmpty })
        XCTAssertTrue(request.containsToken(in: "Connection") { HTTPRequest.tokenEquals($0, "upgrade") })
        XCTAssertTrue(request.keepAlive)

        // Fields set as a list read back the same way; line breaks cannot add a field.
        var built = HTTPRequest(method: .get, target: "/", headers: ["A": " one ", "B\r\nC": "x\r\nD: y"])
        XCTAssertEqual(built.headers.fields.map(\.name), ["A", "BC"])
        XCTAssertEqual(built.field("bc"), "xD: y")
        built.headers.add("Connection", "close")
        XCTAssertEqual(built.field("A"), "one")
        XCTAssertFalse(built.keepAlive)
    }

    func testHTTP10WithoutHostIsAccepted() {
        let h = ParserHarness.parse("GET / HTTP/1.0\r\n\r\n")
        XCTAssertNil(h.error)
        XCTAssertEqual(h.requests.first?.version, .http10)
    }

    func testExpectContinueIsReportedOnceTheHeadArrives() {
        var h = ParserHarness()
        h.feed("POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(h.continues, 1)
        XCTAssertTrue(h.requests.isEmpty)
        h.feed("data")
        XCTAssertEqual(h.requests.first?.body, Array("data".utf8))
        XCTAssertEqual(
            ParserHarness.parse("POST /x HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 1\r\n\r\nx")
                .error, .expectationFailed)
    }

    /// Every request that could be framed two ways, or that a strict peer would reject, is refused.
    func testAmbiguousOrMalformedFramingIsRefused() {
        let cases: [(String, String)] = [
            ("CL+TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("TE+CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"),
            ("two CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
            ("same CL twice", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
            ("CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc"),
            ("signed CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc"),
            (
                "chunked, identity",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
            ),
            (
                "two TE fields",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            ("TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n"),
            ("bare LF", "GET / HTTP/1.1\nHost: x\n\n"),
            ("bare LF in header", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n"),
            ("bare CR", "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n"),
            ("NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\u{0}b\r\n\r\n"),
            ("control in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\u{1}b\r\n\r\n"),
            ("space before colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n"),
            ("space in name", "GET / HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n"),
            ("no colon", "GET / HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n"),
            ("no Host in 1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n"),
            ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            ("garbage request line", "HELLO THERE\r\n\r\n"),
            ("lowercase version", "GET / http/1.1\r\nHost: x\r\n\r\n"),
            ("extra space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("TLS ClientHello", "\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{fc}\u{3}\u{3}\r\n\r\n"),
            ("bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"),
            (
                "chunk size overflow",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000000\r\n"
            ),
            (
                "chunk without CRLF",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"
            ),
            (
                "bare LF in chunk line",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"
            ),
            (
                "folded trailer",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n"
            ),
        ]
        for (name, text) in cases {
            let h = ParserHarness.parse(text)
            XCTAssertEqual(h.error?.status, 400, "\(name) should be 400, got \(String(describing: h.error))")
            XCTAssertTrue(h.requests.isEmpty, "\(name) must not produce a request")
        }
    }

    func testHTTP2PrefaceAndOtherVersionsGet505() {
        XCTAssertEqual(ParserHarness.parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").error, .versionNotSupported)
        XCTAssertEqual(ParserHarness.parse("GET / HTTP/1.2\r\nHost: x\r\n\r\n").error, .versionNotSupported)
    }

    func testLimitsMapToTheirStatuses() {
        var limits = HTTPLimits()
        limits.maxRequestLine = 100
        limits.maxHeaderBytes = 300
        limits.maxHeaderFields = 5
        limits.maxBodyBytes = 10
        limits.maxChunkLine = 20
        XCTAssertEqual(
            ParserHarness.parse("GET /" + String(repeating: "a", count: 200), limits: limits).error, .uriTooLong)
        XCTAssertEqual(
            ParserHarness.parse(
                "GET /" + String(repeating: "a", count: 120) + " HTTP/1.1\r\nHost: x\r\n\r\n", limits: limits
            ).error, .uriTooLong)
        XCTAssertEqual(
            ParserHarness.parse("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "v", count: 500), limits: limits)
                .error, .headersTooLarge)
        // A complete head whose fields alone pass the limit, under request line + fields together.
        XCTAssertEqual(
            ParserHarness.parse(
                "GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "v", count: 320) + "\r\n\r\n", limits: limits
            ).error,
            .headersTooLarge)
        let manyFields = (0..<6).map { "X-\($0): v\r\n" }.joined()
        XCTAssertEqual(
            ParserHarness.parse("GET / HTTP/1.1\r\nHost: x\r\n" + manyFields + "\r\n", limits: limits).error,
            .headersTooLarge)
        XCTAssertEqual(
            ParserHarness.parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", limits: limits).error,
            .bodyTooLarge)
        XCTAssertEqual(
            ParserHarness.parse(
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n", limits: limits
            ).error, .bodyTooLarge)
        XCTAssertEqual(
            ParserHarness.parse(
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;"
                    + String(repeating: "e", count: 40), limits: limits
            ).error?.status, 400)
    }

    func testPartialHeadWaitsWithoutConsuming() {
        var h = ParserHarness()
        h.feed("GET /x HTTP/1.1\r\nHo")
        XCTAssertNil(h.error)
        XCTAssertTrue(h.requests.isEmpty)
        XCTAssertFalse(h.parser.isIdle(bufferedBytes: h.buffer.count))
        h.feed("st: x\r\n\r\n")
        XCTAssertEqual(h.requests.count, 1)
        XCTAssertTrue(h.parser.isIdle(bufferedBytes: h.buffer.count))
    }

    /// Random byte soup must never crash the parser, only produce requests or errors.
    /// The word-at-a-time range check agrees with the byte rule for every length, every
    /// position of the odd byte out, and every byte value there.
    func testASCIIRangeCheckMatchesTheByteRule() {
        for low: UInt8 in [0x20, 0x21] {
            for length in 0...20 {
                for position in 0..<max(length, 1) {
                    for odd in 0...255 {
                        var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                        if length > 0 { bytes[position] = UInt8(odd) }
                        let expected = bytes.allSatisfy { $0 >= low && $0 <= 0x7E }
                        XCTAssertEqual(
                            bytes.withUnsafeBytes { ByteClass.allInASCIIRange($0, from: low) }, expected, "\(bytes)")
                    }
                }
            }
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                UInt8.random(in: 0x1E...0x81, using: &random)
            }
            XCTAssertEqual(
                bytes.withUnsafeBytes { ByteClass.allInASCIIRange($0, from: 0x21) },
                bytes.allSatisfy { $0 >= 0x21 && $0 <= 0x7E })
        }
    }

    func testRandomInputNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(
            "GET POST / HTTP/1.1\r\n:Host Content-Length Transfer-Encoding chunked 0123456789abcdef;\t \u{0}".utf8)
        for _ in 0..<3000 {
            var h = ParserHarness()
            let length = Int.random(in: 0..<200, using: &generator)
            let bytes = (0..<length).map { _ in Bool.random() ? alphabet.randomElement()! : UInt8.random(in: 0...255) }
            var index = 0
            while index < bytes.count && h.error == nil {
                let step = Int.random(in: 1...16, using: &generator)
                h.feed(bytes[index..<min(bytes.count, index + step)])
                index += step
            }
        }
    }
}
