import Auth
import Cache
import Foundation
import HTTP
import Studio
import XCTest

@testable import Gateway
@testable import TestSupport

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
