import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// The real `studiogate` binary in front of the real `mock-studio` binary, on loopback ports.
final class EndToEndForwardingTests: XCTestCase {
    var harness: GatewayHarness!
    var mock: RunningBinary { harness.mock }
    var control: MockControl { harness.control }

    let authA = GatewayHarness.authA
    let authB = GatewayHarness.authB
    let flowA = MockFixtures.flowA
    let ended = MockFixtures.endedExecutionA

    override func setUpWithError() throws {
        // No short-lived caching and no stale answers here: these tests are about forwarding.
        harness = try GatewayHarness(["--active-ttl", "0", "--stale-if-error", "0"])
    }

    override func tearDown() { harness?.stop() }

    func request(_ port: UInt16, _ method: String, _ target: String, auth: String?, body: String = "") throws
        -> RawClient.Response
    {
        try GatewayHarness.send(port, method, target, auth: auth, body: body)
    }

    func viaGateway(_ method: String, _ target: String, auth: String?, body: String = "", extraHeaders: String = "")
        throws -> RawClient.Response
    {
        try harness.viaGateway(method, target, auth: auth, body: body, extraHeaders: extraHeaders)
    }

    func direct(_ method: String, _ target: String, auth: String?) throws -> RawClient.Response {
        try harness.direct(method, target, auth: auth)
    }

    /// Every read endpoint on both versions: same status and body as the mock, one upstream call each.
    func testEveryReadEndpointMatchesTheUpstreamWithOneCallEach() throws {
        for version in ["v1", "v2"] {
            let base = "/\(version)/Flows/\(flowA)/Executions"
            let steps = try XCTUnwrap(
                direct("GET", "\(base)/\(ended)/Steps", auth: authA).json?["steps"] as? [[String: Any]])
            let step = try XCTUnwrap(steps.first?["sid"] as? String)
            let targets = [
                "\(base)?PageSize=5", "\(base)?PageSize=2&Page=1&PageToken=PA\(MockFixtures.activeExecutionA)",
                "\(base)/\(ended)",
                "\(base)/\(ended)/Context", "\(base)/\(ended)/Steps", "\(base)/\(ended)/Steps/\(step)",
                "\(base)/\(ended)/Steps/\(step)/Context", "/\(version)/Flows", "/\(version)/Flows/\(flowA)",
            ]
            for target in targets {
                let path = String(target.split(separator: "?")[0])
                let expected = try direct("GET", target, auth: authA)
                let before = try control.count(path)
                let actual = try viaGateway("GET", target, auth: authA)
                XCTAssertEqual(actual.status, expected.status, target)
                // Identical but for Studio's origin, which now names the gateway (paging keeps working through it).
                let gatewayOrigin = "http://127.0.0.1:\(harness.gateway.port)"
                XCTAssertTrue(actual.text.contains(gatewayOrigin), target)
                XCTAssertEqual(
                    actual.text.replacingOccurrences(of: gatewayOrigin, with: "https://studio.twilio.com"),
                    expected.text, target)
                XCTAssertEqual(actual.header("Content-Type"), "application/json", target)
                XCTAssertEqual(actual.header("Twilio-Request-Id")?.hasPrefix("RQ"), true, target)
                XCTAssertEqual(try control.count(path), before + 1, "one upstream call for \(target)")
            }
        }
    }

    func testCreateUpdateDeleteOnBothVersions() throws {
        for (version, createStatus) in [("v1", 200), ("v2", 201)] {
            let base = "/\(version)/Flows/\(flowA)/Executions"
            let created = try viaGateway(
                "POST", base, auth: authA, body: "To=%2B15551230000&From=%2B15557650000&Parameters=%7B%22n%22%3A1%7D")
            XCTAssertEqual(created.status, createStatus)
            let sid = try XCTUnwrap(created.json?["sid"] as? String)
            XCTAssertEqual(created.json?["status"] as? String, "active")
            XCTAssertEqual(created.json?["contact_channel_address"] as? String, "+15551230000")

            let updated = try viaGateway("POST", "\(base)/\(sid)", auth: authA, body: "Status=ended")
            XCTAssertEqual(updated.status, 200)
            XCTAssertEqual(updated.json?["status"] as? String, "ended")
            XCTAssertEqual(try viaGateway("POST", "\(base)/\(sid)", auth: authA, body: "Status=paused").status, 400)

            XCTAssertEqual(try viaGateway("DELETE", "\(base)/\(sid)", auth: authA).status, 204)
            let gone = try viaGateway("GET", "\(base)/\(sid)", auth: authA)
            XCTAssertEqual(gone.status, 404)
            XCTAssertEqual(gone.json?["code"] as? Int, 20404)
        }
        XCTAssertEqual(try control.count("/v2/Flows/\(flowA)/Executions", method: "POST"), 1)
    }

    func testForwardedRequestCarriesOnlyEndToEndHeadersAndTheBody() throws {
        _ = try viaGateway(
            "POST", "/v2/Flows/\(flowA)/Executions", auth: authA, body: "To=a&From=b",
            extraHeaders:
                "User-Agent: twilio-python/9.4.0\r\nAccept: application/json\r\nX-Private: 1\r\nConnection: keep-alive, X-Private\r\nCookie: c=1\r\n"
        )
        let last = try XCTUnwrap(control.call("GET", "/__mock/last-request").json)
        let headers = try XCTUnwrap(last["headers"] as? [[String]])
        func value(_ name: String) -> String? { headers.first { $0[0].lowercased() == name.lowercased() }?[1] }
        XCTAssertEqual(last["method"] as? String, "POST")
        XCTAssertEqual(last["body"] as? String, "To=a&From=b")
        XCTAssertEqual(value("Authorization"), authA)
        XCTAssertEqual(value("User-Agent"), "twilio-python/9.4.0 studiogate/0.1.0")
        XCTAssertEqual(value("Content-Type"), "application/x-www-form-urlencoded")
        XCTAssertNil(value("X-Private"))
        XCTAssertNil(value("Cookie"))
    }

    func testUpstreamErrorsPassThroughInTwilioForm() throws {
        let wrong = try viaGateway(
            "GET", "/v2/Flows/\(flowA)/Executions", auth: RawClient.basicAuth(MockFixtures.accountA, "wrong"))
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(wrong.json?["code"] as? Int, 20003)
        let foreign = try viaGateway("GET", "/v2/Flows/\(flowA)/Executions/\(ended)", auth: authB)
        XCTAssertEqual(foreign.status, 404, "account B must not see account A's execution")
        let viaKey = try viaGateway(
            "GET", "/v2/Flows/\(flowA)/Executions/\(ended)",
            auth: RawClient.basicAuth(MockFixtures.apiKeyA, MockFixtures.apiKeySecretA))
        XCTAssertEqual(viaKey.json?["account_sid"] as? String, MockFixtures.accountA)
        // More 429s than the gateway's retries: the last one reaches the client.
        try control.fault(#"{"path_prefix": "/v2/", "status": 429, "code": 20429, "times": 5}"#)
        let limited = try viaGateway("GET", "/v2/Flows/\(flowA)/Executions", auth: authA)
        XCTAssertEqual(limited.status, 429)
        XCTAssertEqual(limited.json?["code"] as? Int, 20429)
    }

    func testRefusedRequestsNeverReachTheUpstream() throws {
        let before = try control.totalCount()
        let cases: [(String, String, String?, Int)] = [
            ("GET", "/v2/Flows/\(flowA)/Executions", nil, 401),
            ("GET", "/v2/Flows/FWnot-a-sid/Executions", authA, 404),
            ("GET", "/v2/Flows/\(flowA)/Executions/FN123", authA, 404),
            ("GET", "/v2/Flows/\(flowA)/Executions/\(ended)/Steps/FT1/Context", authA, 404),
            ("GET", "/v3/Flows", authA, 404),
            ("PUT", "/v2/Flows/\(flowA)/Executions", authA, 405),
            ("GET", "/v2/Flows/../../etc/passwd", authA, 400),
            ("GET", "/v2/Flows%2F\(flowA)/Executions", authA, 400),
            ("GET", "http://studio.twilio.com/v2/Flows", authA, 400),
            ("CONNECT", "studio.twilio.com:443", authA, 400),
        ]
        for (method, target, auth, status) in cases {
            let response = try viaGateway(method, target, auth: auth)
            XCTAssertEqual(response.status, status, "\(method) \(target)")
            XCTAssertNotNil(response.json?["code"], "Twilio-style body for \(method) \(target)")
        }
        for raw in [
            "NOT HTTP\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        ] {
            let client = try RawClient(port: harness.gateway.port)
            client.send(raw)
            XCTAssertEqual(try client.readResponse().status, 400)
        }
        let client = try RawClient(port: harness.gateway.port)
        client.send(
            "POST /v2/Flows/\(flowA)/Executions HTTP/1.1\r\nHost: x\r\nAuthorization: \(authA)\r\nContent-Length: 2000000\r\n\r\n"
        )
        XCTAssertEqual(try client.readResponse().status, 413)
        XCTAssertEqual(try control.totalCount(), before, "no refused request may reach the upstream")
    }

    func testEngagementRoutesAreForwardedToExecutions() throws {
        let response = try viaGateway("GET", "/v1/Flows/\(flowA)/Engagements/\(ended)", auth: authA)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(try control.count("/v1/Flows/\(flowA)/Executions/\(ended)"), 1)
    }

    func testUpstreamDownIs502AndSlowUpstreamIs504() throws {
        let slow = try RunningBinary(
            "studiogate",
            ["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(mock.port)", "--upstream-timeout", "1"])
        defer { slow.stop() }
        try control.fault(#"{"path_prefix": "/v2/", "delay_ms": 3000, "times": 1}"#)
        let timedOut = try request(slow.port, "GET", "/v2/Flows/\(flowA)/Executions", auth: authA)
        XCTAssertEqual(timedOut.status, 504)
        XCTAssertEqual(timedOut.json?["status"] as? Int, 504)

        try control.fault(#"{"path_prefix": "/v2/", "reset": true, "times": 5}"#)
        let reset = try viaGateway("GET", "/v2/Flows/\(flowA)/Executions", auth: authA)
        XCTAssertEqual(reset.status, 502)

        mock.stop()
        let down = try viaGateway("GET", "/v2/Flows/\(flowA)/Executions", auth: authA)
        XCTAssertEqual(down.status, 502)
        XCTAssertEqual(down.json?["code"] as? Int, 20502)
    }

    func testBadCommandLineExitsWithCode2() throws {
        let process = Process()
        process.executableURL = RunningBinary.productsDirectory.appendingPathComponent("studiogate")
        process.arguments = ["--active-ttl", "soon"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(message.hasPrefix("studiogate: error: --active-ttl"), message)
        XCTAssertEqual(message.filter { $0 == "\n" }.count, 1)
    }

    func testDemoModeServesTheCommandsItPrints() throws {
        let demo = try RunningBinary("studiogate", ["--demo", "--listen", "127.0.0.1:0"])
        defer { demo.stop() }
        let response = try request(demo.port, "GET", "/v2/Flows/\(flowA)/Executions/\(ended)/Context", auth: authA)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json?["execution_sid"] as? String, ended)
    }
}
