import Auth
import Cache
import Foundation
import HTTP
import Studio
import XCTest

@testable import Gateway

/// The gateway's decisions before any I/O, checked without sockets.
final class GatewayPlanTests: XCTestCase {
    let gateway = Gateway(config: GatewayConfig())
    let flow = "FW" + String(repeating: "a", count: 32)
    let auth = BasicCredentials(username: "AC" + String(repeating: "1", count: 32), password: "secret")
        .authorizationValue

    func plan(_ method: String, _ target: String, headers: HTTPHeaders = [:]) -> Plan {
        var all: HTTPHeaders = ["Host": "127.0.0.1:8080"]
        for (name, value) in headers { all.add(name, value) }
        return gateway.planner.plan(HTTPRequest(method: HTTPMethod(method), target: target, headers: all))
    }

    func status(_ plan: Plan) -> HTTPStatus? {
        if case .respond(let response) = plan { return response.status }
        return nil
    }

    func testForwardsKnownRoutesWithOnlyEndToEndHeaders() throws {
        let result = plan(
            "GET", "/v2/Flows/\(flow)/Executions?PageSize=2",
            headers: [
                "Authorization": auth, "Accept": "application/json", "User-Agent": "twilio-python/9.0",
                "Connection": "keep-alive, X-Secret", "X-Secret": "1", "Cookie": "a=b", "Proxy-Authorization": "x",
            ])
        guard case .forward(let forward) = result else { return XCTFail("expected a forward") }
        let request = forward.upstreamRequest
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.pathAndQuery, "/v2/Flows/\(flow)/Executions?PageSize=2")
        XCTAssertEqual(request.headers.fields.map(\.name), ["Authorization", "Accept", "User-Agent"])
        XCTAssertEqual(request.headers["User-Agent"], "twilio-python/9.0 studiogate/\(StudioGateVersion.current)")
    }

    func testRefusalsNeverReachTheUpstream() {
        XCTAssertEqual(status(plan("GET", "/v2/Flows/\(flow)/Executions")), 401)
        XCTAssertEqual(status(plan("GET", "/v2/Flows/\(flow)/Executions", headers: ["Authorization": "Bearer x"])), 401)
        XCTAssertEqual(
            status(plan("GET", "/v2/Flows/\(flow)/Executions", headers: ["Authorization": "Basic !!!"])), 401)
        XCTAssertEqual(status(plan("GET", "/v2/Unknown", headers: ["Authorization": auth])), 404)
        XCTAssertEqual(status(plan("GET", "/v2/Flows/FWbad/Executions", headers: ["Authorization": auth])), 404)
        XCTAssertEqual(status(plan("PUT", "/v2/Flows/\(flow)/Executions", headers: ["Authorization": auth])), 405)
        XCTAssertEqual(status(plan("CONNECT", "studio.twilio.com:443", headers: ["Authorization": auth])), 400)
        XCTAssertEqual(status(plan("GET", "http://evil.example/v2/Flows", headers: ["Authorization": auth])), 400)
        XCTAssertEqual(status(plan("GET", "/v2/Flows/../x", headers: ["Authorization": auth])), 400)
        XCTAssertEqual(status(plan("GET", "/v2%2FFlows", headers: ["Authorization": auth])), 400)
    }

    func testMethodNotAllowedNamesTheAllowedOnes() {
        guard
            case .respond(let response) = plan(
                "DELETE", "/v2/Flows/\(flow)/Executions", headers: ["Authorization": auth])
        else { return XCTFail() }
        XCTAssertEqual(response.headers["Allow"], "GET, POST")
    }

    func testErrorsAreTwilioShaped() throws {
        guard case .respond(let response) = plan("GET", "/nope", headers: ["Authorization": auth]) else {
            return XCTFail()
        }
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        XCTAssertEqual(json["code"] as? Int, 20404)
        XCTAssertEqual(json["status"] as? Int, 404)
        XCTAssertEqual(json["more_info"] as? String, "https://www.twilio.com/docs/errors/20404")
        XCTAssertEqual(response.headers["Content-Type"], "application/json")
    }

    func testUpstreamFailuresMapTo502And504() {
        XCTAssertEqual(Renderer.failure(.timeout, .miss).status, 504)
        XCTAssertEqual(Renderer.failure(.unreachable("x"), .miss).status, 502)
        XCTAssertEqual(Renderer.failure(.overloaded, .miss).status, 503)
    }

    func testAcceptsGzipFollowsQValues() {
        func accepts(_ value: String?) -> Bool {
            RequestPlanner.acceptsGzip(
                HTTPRequest(method: .get, target: "/", headers: value.map { ["Accept-Encoding": $0] } ?? [:]))
        }
        XCTAssertFalse(accepts(nil))
        XCTAssertTrue(accepts("gzip, deflate"))
        XCTAssertTrue(accepts("deflate,GZIP"))
        XCTAssertTrue(accepts("x-gzip"))
        XCTAssertTrue(accepts("gzip;q=0.5"))
        XCTAssertTrue(accepts("gzip ; q=1.000"))
        XCTAssertFalse(accepts("gzip;q=0"))
        XCTAssertFalse(accepts("gzip; q=0.000"))
        XCTAssertFalse(accepts("gzipped, br"))
        XCTAssertFalse(accepts("identity"))
    }

    func testCallerCredentialIsReusedOnlyForTheSameValue() throws {
        let other = BasicCredentials(username: "AC" + String(repeating: "2", count: 32), password: "secret")
            .authorizationValue
        let first = try XCTUnwrap(CallerCredential(authorization: auth))
        XCTAssertEqual(first.username, "AC" + String(repeating: "1", count: 32))
        XCTAssertEqual(first.digest, CredentialBook.digest(authorization: auth))
        let again = try XCTUnwrap(CallerCredential.derive(auth, reusing: first))
        XCTAssertEqual(again.digest, first.digest)
        let switched = try XCTUnwrap(CallerCredential.derive(other, reusing: first))
        XCTAssertEqual(switched.digest, CredentialBook.digest(authorization: other))
        XCTAssertEqual(switched.username, "AC" + String(repeating: "2", count: 32))
        XCTAssertNil(
            CallerCredential.derive("Basic !!!", reusing: first), "a bad value never falls back to the remembered one")
    }
}

/// Issue 18 #8: `POST /admin/purge?account=AC…` purges one tenant without emptying everyone's
/// cache; with `execution` or `flow` it narrows that purge to the one account.
final class AdminPurgeTests: XCTestCase {
    let accountA = "AC" + String(repeating: "a", count: 32)
    let accountB = "AC" + String(repeating: "b", count: 32)
    let flow = "FW" + String(repeating: "f", count: 32)
    let execution = "FN" + String(repeating: "e", count: 32)

    func purge(_ admin: AdminHandler, _ query: String) -> (status: HTTPStatus, purged: Int?) {
        let response = admin.answer(
            HTTPRequest(method: "POST", target: "/admin/purge?" + query, headers: ["Host": "x"]))
        let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (response.status, json?["purged"] as? Int)
    }

    func fill(_ gateway: Gateway) {
        for account in [accountA, accountB] {
            for resource in [
                "/v2/Flows/\(flow)/Executions/\(execution)", "/v2/Flows/\(flow)/Executions/\(execution)/Context",
            ] {
                let entry = CachedResponse(
                    status: 200, contentType: "application/json", requestID: nil, gzipBody: [1], identityLength: 1,
                    account: account, storedAt: 0, expiresAt: nil)
                gateway.store.adopt(
                    CacheKey(account: account, resource: resource, group: CacheGroup(execution)!), entry)
            }
            let list = CachedResponse(
                status: 200, contentType: "application/json", requestID: nil, gzipBody: [1], identityLength: 1,
                account: account, storedAt: 0, expiresAt: 100)
            gateway.store.adopt(
                CacheKey(
                    account: account, resource: "/v2/Flows/\(flow)/Executions", group: CacheGroup(flow + "/lists")!),
                list)
        }
    }

    func accounts(_ gateway: Gateway) -> [String] {
        gateway.store.entries { _, _ in true }.map(\.0.account).sorted()
    }

    func testPurgeByAccountLeavesOtherTenantsAlone() {
        let gateway = Gateway(config: GatewayConfig())
        let admin = AdminHandler(gateway: gateway, token: nil)
        fill(gateway)
        XCTAssertEqual(purge(admin, "account=\(accountA)&execution=\(execution)").purged, 2)
        XCTAssertEqual(accounts(gateway), [accountA, accountB, accountB, accountB])
        XCTAssertEqual(purge(admin, "flow=\(flow)&account=\(accountB)").purged, 3)
        XCTAssertEqual(accounts(gateway), [accountA])
        fill(gateway)
        XCTAssertEqual(purge(admin, "account=\(accountB)").purged, 3)
        XCTAssertEqual(accounts(gateway), [accountA, accountA, accountA])
        XCTAssertEqual(purge(admin, "account=not-an-account").status, 400)
        XCTAssertEqual(purge(admin, "").status, 400)
        XCTAssertEqual(purge(admin, "execution=\(execution)").purged, 2, "without account: every tenant, as before")
    }
}

final class RequestCountsTests: XCTestCase {
    /// Every slot counts one label and every label with a usual status has a slot.
    func testSlotsAndLabelsAreOneToOne() {
        var seen = Set<RequestCounts.Label>()
        for slot in 0..<RequestCounts.slots {
            let label = RequestCounts.label(at: slot)
            XCTAssertEqual(RequestCounts.slot(label), slot)
            XCTAssertTrue(seen.insert(label).inserted, "\(label)")
        }
        XCTAssertNil(RequestCounts.slot(.init(route: .unmatched, status: 418, cache: nil)))
        XCTAssertEqual(RouteLabel.count, 30)
        XCTAssertEqual(RouteLabel(code: RouteLabel.count - 1).name, "v2_flow_admin")
    }

    /// Answers counted on two loops, off any loop and under rare statuses read back as one sum.
    func testEveryLoopsCountsAreSummedWhenRead() throws {
        let gateway = try InProcessGateway(loops: 2)
        let telemetry = gateway.gateway.telemetry
        let loops = gateway.group.loops
        var expected: [RequestCounts.Label: Int] = [:]
        let statuses: [HTTPStatus] = [200, 404, 418, 504, 599, 304]
        let outcomes: [CacheOutcome?] = [nil, .hit, .fleetHit, .miss, .stale, .bypass]
        for code in 0..<RouteLabel.count {
            for (index, status) in statuses.enumerated() {
                let label = RequestCounts.Label(
                    route: RouteLabel(code: code), status: status, cache: outcomes[(code + index) % outcomes.count])
                for repeat_ in 0...(code % 3) {
                    let loop = (code + repeat_) % 2
                    gateway.onLoop(loop) {
                        let counters = telemetry.counters(on: loops[loop])
                        telemetry.record(
                            route: label.route, status: label.status, cache: label.cache, seconds: 0.002, in: counters)
                        counters.add(.hits)
                    }
                }
                expected[label, default: 0] += code % 3 + 1
            }
        }
        telemetry.record(route: .unmatched, status: 400, cache: .bypass, seconds: nil, in: telemetry.unlooped)
        telemetry.unlooped.add(.hits)
        expected[.init(route: .unmatched, status: 400, cache: .bypass), default: 0] += 1
        XCTAssertEqual(telemetry.requestCounts, expected)
        let answers = expected.values.reduce(0, +)
        XCTAssertEqual(telemetry.total(.hits), answers)
        let metrics = telemetry.renderMetrics(gateway.gateway.administration.gauges)
        XCTAssertTrue(metrics.contains("studiogate_request_duration_seconds_count \(answers - 1)\n"), metrics)
        XCTAssertTrue(metrics.contains("studiogate_request_duration_seconds_bucket{le=\"0.001\"} 0\n"))
        XCTAssertTrue(metrics.contains("studiogate_request_duration_seconds_bucket{le=\"0.0025\"} \(answers - 1)\n"))
        XCTAssertTrue(metrics.contains("studiogate_cache_requests_total{result=\"hit\"} \(answers)\n"))
        let lines = metrics.split(separator: "\n").filter { $0.hasPrefix("studiogate_requests_total{") }
        XCTAssertEqual(lines.count, expected.count)
    }
}
