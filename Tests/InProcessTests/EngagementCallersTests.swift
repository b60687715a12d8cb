import Foundation
import HTTP
import XCTest

@testable import Gateway
@testable import TestSupport

/// The Engagement migration report in process: who called which v1 Engagement route, how often,
/// first and last seen on the test's clock; bounded, behind the admin token, in /metrics by route.
final class EngagementCallersTests: XCTestCase {
    typealias S = StudioBodies
    let token = "admin-token-0123456789"

    func engagement(_ sid: String) -> String { "/v1/Flows/\(S.flow)/Engagements/\(sid)" }

    func report(_ gateway: InProcessGateway) throws -> [String: Any] {
        let admin = AdminHandler(gateway: gateway.gateway, token: token)
        let response = admin.answer(
            HTTPRequest(method: .get, target: "/admin/engagements", headers: ["Authorization": "Bearer " + token]))
        XCTAssertEqual(response.status, 200)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func testEngagementRequestsAreCountedByCallerWithFirstAndLastSeen() throws {
        let gateway = try InProcessGateway()
        let sid = S.execution(7)
        gateway.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended", version: "v1")) }
        let python: HTTPHeaders = ["User-Agent": "twilio-python/9.13.0 (Linux x86_64) Python/3.11"]
        XCTAssertEqual(
            try gateway.send(.get, engagement(sid), auth: S.authA, headers: python).headers["X-Cache"], "MISS")
        gateway.advance(30)
        XCTAssertEqual(
            try gateway.send(.get, engagement(sid), auth: S.authA, headers: python).headers["X-Cache"], "HIT")
        gateway.advance(5)
        _ = try gateway.send(.get, engagement(sid), auth: S.authB, headers: ["User-Agent": "twilio-node/5.0.0"])
        // Executions routes are not Engagement callers.
        gateway.upstream.answer { _ in S.ok(S.executionJSON(S.execution(8), status: "ended")) }
        _ = try gateway.send(.get, S.path(S.execution(8)), auth: S.authA, headers: python)

        let json = try report(gateway)
        let callers = try XCTUnwrap(json["callers"] as? [[String: Any]])
        XCTAssertEqual(callers.count, 2)
        let first = try XCTUnwrap(callers.first { $0["caller"] as? String == S.accountA })
        XCTAssertEqual(first["user_agent"] as? String, "twilio-python/9.13.0")
        XCTAssertEqual(first["route"] as? String, "v1_engagement")
        XCTAssertEqual(first["requests"] as? Int, 2)
        // InProcessGateway's wall clock moves with its time; the two requests were 30 s apart.
        let firstSeen = try XCTUnwrap(first["first_seen_unix"] as? Double)
        XCTAssertEqual(first["last_seen_unix"] as? Double, firstSeen + 30)
        XCTAssertEqual(first["first_seen"] as? String, Logger.timestamp(epochSeconds: firstSeen))
        XCTAssertEqual(callers.first?["caller"] as? String, S.accountB, "most recently seen first")
        XCTAssertEqual((json["requests_by_route"] as? [String: Int])?["v1_engagement"], 3)
        XCTAssertEqual(json["callers_dropped"] as? Int, 0)
        let body = try JSONSerialization.data(withJSONObject: json)
        XCTAssertFalse(String(decoding: body, as: UTF8.self).contains("token-a"), "never a credential")

        let metrics = gateway.gateway.telemetry.renderMetrics(gateway.gateway.administration.gauges)
        XCTAssertTrue(metrics.contains("studiogate_engagement_requests_total{route=\"v1_engagement\"} 3\n"))
        XCTAssertTrue(metrics.contains("studiogate_engagement_requests_total{route=\"v1_engagement_step\"} 0\n"))
        XCTAssertFalse(metrics.contains("studiogate_engagement_requests_total{route=\"v2"))
    }

    func testTheReportIsBoundedAndDropsTheLeastRecentlySeen() {
        let callers = EngagementCallers(capacity: 3)
        func caller(_ n: Int) -> EngagementCallers.Caller {
            .init(user: "AC\(n)", userAgent: "agent/\(n)", route: RouteLabel.engagementRoutes[0])
        }
        for n in 0..<3 { callers.record(caller(n), at: Double(n)) }
        callers.record(caller(0), at: 10)  // seen again: now the most recent
        callers.record(caller(3), at: 11)  // full: caller 1, the least recently seen, goes
        callers.record(caller(4), at: 12)  // then caller 2
        let report = callers.report
        XCTAssertEqual(report.callers.map(\.caller.user), ["AC4", "AC3", "AC0"])
        XCTAssertEqual(report.dropped, 2)
        XCTAssertEqual(report.callers.last?.seen, .init(requests: 2, firstSeen: 0, lastSeen: 10))
        XCTAssertEqual(report.requestsByRoute.first?.requests, 6, "route totals are never dropped")
    }

    func testTheReportAndThePageNeedTheAdminToken() throws {
        let gateway = try InProcessGateway()
        let admin = AdminHandler(gateway: gateway.gateway, token: token)
        for path in ["/admin/engagements", "/admin/"] {
            XCTAssertEqual(admin.answer(HTTPRequest(method: .get, target: path, headers: [:])).status, 401, path)
            let wrong = HTTPRequest(method: .get, target: path, headers: ["Authorization": "Bearer nope"])
            XCTAssertEqual(admin.answer(wrong).status, 401, path)
        }
        let page = admin.answer(
            HTTPRequest(method: .get, target: "/admin/", headers: ["Authorization": "Bearer " + token]))
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["Content-Type"], "text/html; charset=utf-8")
        XCTAssertFalse(String(decoding: page.body, as: UTF8.self).contains(token))
        let post = admin.answer(
            HTTPRequest(method: .post, target: "/admin/engagements", headers: ["Authorization": "Bearer " + token]))
        XCTAssertEqual(post.status, 405)
    }
}
