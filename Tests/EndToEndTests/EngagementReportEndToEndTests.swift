import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// Through the real binary: Engagement callers in `/admin/engagements` and `/metrics`, and the
/// access line's trace id and caller (the SID and the SDK's product, never its token).
final class EngagementReportEndToEndTests: XCTestCase {
    let token = "admin-token-engagements-0123456789"
    let traceID = "0af7651916cd43dd8448eb211c80319c"
    var harness: GatewayHarness!

    override func setUpWithError() throws {
        harness = try GatewayHarness(["--admin-listen", "127.0.0.1:0", "--admin-token", token])
    }

    override func tearDown() { harness?.stop() }

    func testEngagementCallersAreReportedAndTheAccessLineNamesTheCallerAndTrace() throws {
        let engagement = "/v1/Flows/\(MockFixtures.flowA)/Engagements/\(MockFixtures.endedExecutionA)"
        let sdk = "User-Agent: twilio-python/9.13.0 (Linux x86_64) Python/3.11.2\r\n"
        let trace = "traceparent: 00-\(traceID)-b7ad6b7169203331-01\r\n"
        XCTAssertEqual(try harness.get(engagement, extraHeaders: sdk + trace).status, 200)
        XCTAssertEqual(try harness.get(engagement, extraHeaders: sdk).header("X-Cache"), "HIT")
        XCTAssertEqual(try harness.get(engagement, auth: GatewayHarness.authKeyA).status, 200)
        XCTAssertEqual(try harness.get("/v2/Flows/\(MockFixtures.flowA)/Executions").status, 200)

        let admin = try XCTUnwrap(harness.gateway.adminPort)
        XCTAssertEqual(try GatewayHarness.send(admin, "GET", "/admin/engagements", auth: nil).status, 401)
        let report = try GatewayHarness.send(admin, "GET", "/admin/engagements", auth: "Bearer " + token)
        XCTAssertEqual(report.status, 200)
        let callers = try XCTUnwrap(report.json?["callers"] as? [[String: Any]])
        XCTAssertEqual(callers.count, 2)
        let python = try XCTUnwrap(callers.first { $0["caller"] as? String == MockFixtures.accountA })
        XCTAssertEqual(python["user_agent"] as? String, "twilio-python/9.13.0")
        XCTAssertEqual(python["route"] as? String, "v1_engagement")
        XCTAssertEqual(python["requests"] as? Int, 2)
        XCTAssertEqual(callers.first?["caller"] as? String, MockFixtures.apiKeyA)
        for secret in [MockFixtures.tokenA, MockFixtures.apiKeySecretA, token] {
            XCTAssertFalse(report.text.contains(secret))
        }

        let metrics = try harness.get("/metrics", auth: nil).text
        XCTAssertTrue(metrics.contains("studiogate_engagement_requests_total{route=\"v1_engagement\"} 3\n"), metrics)

        let line = try XCTUnwrap(
            harness.gateway.output(containing: traceID).split(separator: "\n").first { $0.contains(traceID) })
        let access = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(access["trace_id"] as? String, traceID)
        XCTAssertEqual(access["caller"] as? String, MockFixtures.accountA)
        XCTAssertEqual(access["user_agent"] as? String, "twilio-python/9.13.0")
        let log = harness.gateway.output(containing: MockFixtures.apiKeyA)
        XCTAssertFalse(log.contains(MockFixtures.tokenA) || log.contains(MockFixtures.apiKeySecretA))
    }
}
