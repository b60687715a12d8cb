import HTTP
import XCTest

@testable import Gateway

/// The W3C `traceparent` grammar as the gateway applies it, what it forwards to Twilio, and how
/// the access log names a caller.
final class TraceContextTests: XCTestCase {
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    func testAWellFormedTraceparentGivesItsTraceID() {
        XCTAssertEqual(TraceContext.traceID(valid), "4bf92f3577b34da6a3ce929d0e0e4736")
        XCTAssertEqual(
            TraceContext.traceID("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            "4bf92f3577b34da6a3ce929d0e0e4736")
        // A later version may carry more after a dash.
        XCTAssertEqual(
            TraceContext.traceID("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-adds"),
            "4bf92f3577b34da6a3ce929d0e0e4736")
    }

    func testEveryMalformedTraceparentIsRefused() {
        let malformed = [
            "",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff is invalid
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version of one digit
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // not hex
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase trace id
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // trace id of 31
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // all-zero parent id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",  // parent id of 15
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  // flags of one digit
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",  // flags not hex
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // wrong separator
            valid + "-extra",  // version 00 is exactly 55 characters
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // a later version goes on after "-"
            " " + valid,
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + String(repeating: "a", count: 300),
        ]
        for text in malformed { XCTAssertNil(TraceContext.traceID(text), text) }
    }

    func testAValidContextIsForwardedWithItsState() {
        let forwarded = RequestPlanner.forwardedHeaders(["traceparent": valid, "tracestate": "congo=t61rcWkgMzE"])
        XCTAssertEqual(forwarded["traceparent"], valid)
        XCTAssertEqual(forwarded["tracestate"], "congo=t61rcWkgMzE")
    }

    func testAMalformedTraceparentIsDroppedAndItsStateWithIt() {
        let forwarded = RequestPlanner.forwardedHeaders([
            "traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "tracestate": "congo=t61rcWkgMzE",
        ])
        XCTAssertNil(forwarded["traceparent"])
        XCTAssertNil(forwarded["tracestate"])
        XCTAssertNil(RequestPlanner.forwardedHeaders(["tracestate": "congo=t61rcWkgMzE"])["tracestate"])
    }

    func testTwoTraceparentsAreMalformedAndAnUnprintableStateIsDropped() {
        var twice = HTTPHeaders()
        twice.add("traceparent", valid)
        twice.add("traceparent", valid)
        XCTAssertNil(TraceContext(twice))
        let control = TraceContext(["traceparent": valid, "tracestate": "a=b\u{1}"])
        XCTAssertEqual(control?.traceparent, valid)
        XCTAssertNil(control?.tracestate)
        XCTAssertNil(
            TraceContext(["traceparent": valid, "tracestate": String(repeating: "a", count: 513)])?.tracestate)
        var split = HTTPHeaders()
        split.add("traceparent", valid)
        split.add("tracestate", "a=1")
        split.add("tracestate", "b=2")
        XCTAssertEqual(TraceContext(split)?.tracestate, "a=1,b=2")
    }

    func testTheCallerIsNamedByItsUserAndProductBoundedAndPrintable() {
        XCTAssertEqual(CallerName.product("twilio-python/9.13.0 (Linux x86_64) Python/3.11.2"), "twilio-python/9.13.0")
        XCTAssertEqual(CallerName.product("<script>alert(1)</script>"), "")
        XCTAssertEqual(CallerName.product("evil\u{1b}[31m/1.0"), "evil")
        XCTAssertEqual(CallerName.product(String(repeating: "a", count: 200)).count, CallerName.productLimit)
        let key = "SK" + String(repeating: "c", count: 32)
        XCTAssertEqual(CallerName.user(key), key)
        XCTAssertEqual(CallerName.user("AC\n\u{7}x"), "ACx")
        XCTAssertEqual(CallerName.user(String(repeating: "A", count: 100)).count, CallerName.userLimit)
    }

    func testTheAccessIdentityReadsTheRequestsFields() {
        let request = HTTPRequest(
            method: .get, target: "/", headers: ["traceparent": valid, "User-Agent": "twilio-node/5.0.0 (darwin)"])
        let identity = AccessIdentity(request)
        XCTAssertEqual(identity.traceID, "4bf92f3577b34da6a3ce929d0e0e4736")
        XCTAssertEqual(identity.userAgent, "twilio-node/5.0.0")
        XCTAssertNil(AccessIdentity(HTTPRequest(method: .get, target: "/", headers: ["traceparent": "junk"])).traceID)
    }
}
