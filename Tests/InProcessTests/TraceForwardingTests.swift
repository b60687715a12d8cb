import HTTP
import XCTest

@testable import Gateway
@testable import TestSupport

/// A client's W3C trace context reaches Twilio on a miss; a malformed one does not, nor its state.
final class TraceForwardingTests: XCTestCase {
    typealias S = StudioBodies
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    func testAWellFormedTraceparentAndItsStateAreForwarded() throws {
        let gateway = try InProcessGateway()
        gateway.upstream.answer { _ in S.ok(S.executionJSON(S.execution(1), status: "ended")) }
        let answer = try gateway.send(
            .get, S.path(S.execution(1)), auth: S.authA,
            headers: ["traceparent": traceparent, "tracestate": "vendor=opaque"])
        XCTAssertEqual(answer.status, 200)
        let sent = try XCTUnwrap(gateway.upstream.requests.first)
        XCTAssertEqual(sent.headers["traceparent"], traceparent)
        XCTAssertEqual(sent.headers["tracestate"], "vendor=opaque")
    }

    func testAMalformedTraceparentIsDroppedWithItsState() throws {
        let gateway = try InProcessGateway()
        gateway.upstream.answer { _ in S.ok(S.executionJSON(S.execution(2), status: "ended")) }
        let malformed = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"  // uppercase: not W3C
        _ = try gateway.send(
            .get, S.path(S.execution(2)), auth: S.authA, headers: ["traceparent": malformed, "tracestate": "vendor=x"])
        let sent = try XCTUnwrap(gateway.upstream.requests.first)
        XCTAssertNil(sent.headers["traceparent"])
        XCTAssertNil(sent.headers["tracestate"])
        XCTAssertNotNil(sent.headers["Authorization"], "the rest is forwarded as before")
    }
}
