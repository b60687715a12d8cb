import Foundation
import HTTP
import Upstream

@testable import Gateway
@testable import MockStudio

/// A gateway in front of the mock Studio, at whichever level a case runs — Hummingbird's
/// `TestingSetup` is the model: the same case runs in process (`InProcessMockGateway`: the pipeline
/// over the mock's model, the test's clock) and end to end (`GatewayHarness`: the real binaries on
/// loopback), written once (`GatewayCases`).
protocol GatewayUnderTest: AnyObject {
    /// One request through the gateway (a new connection end to end).
    func send(_ method: String, _ target: String, auth: String?, body: String) throws -> RawClient.Response
    /// Studio requests the mock received for `path` (any method).
    func upstreamCount(_ path: String) throws -> Int
    /// The mock's control API (`/__mock/…`: revoke a key, rotate a token, end an execution).
    @discardableResult
    func mock(_ method: String, _ path: String, body: String) throws -> RawClient.Response
    /// Lets `seconds` pass for the gateway: moved in process, slept end to end.
    func letTimePass(_ seconds: Double)
}

extension GatewayUnderTest {
    func get(_ target: String, auth: String? = GatewayHarness.authA) throws -> RawClient.Response {
        try send("GET", target, auth: auth, body: "")
    }

    @discardableResult
    func mock(_ method: String, _ path: String) throws -> RawClient.Response { try mock(method, path, body: "") }
}

extension GatewayHarness: GatewayUnderTest {
    func send(_ method: String, _ target: String, auth: String?, body: String) throws -> RawClient.Response {
        try viaGateway(method, target, auth: auth, body: body)
    }

    func upstreamCount(_ path: String) throws -> Int { try control.count(path) }

    func mock(_ method: String, _ path: String, body: String) throws -> RawClient.Response {
        try control.call(method, path, body: body)
    }

    func letTimePass(_ seconds: Double) { Thread.sleep(forTimeInterval: seconds) }
}

/// The pipeline in process over the mock Studio's own model: the mock's answers (its 401 with
/// `WWW-Authenticate`, its restricted keys, its control API) without its sockets.
final class InProcessMockGateway: GatewayUnderTest {
    let mockStudio = MockStudio()
    let inProcess: InProcessGateway

    init(_ configure: (inout GatewayConfig) -> Void = { _ in }) throws {
        inProcess = try InProcessGateway(configure)
        let mockStudio = self.mockStudio
        inProcess.upstream.answer { request in .success(mockStudio.answer(request)) }
    }

    func send(_ method: String, _ target: String, auth: String?, body: String) throws -> RawClient.Response {
        var headers: HTTPHeaders = [:]
        if !body.isEmpty { headers.add("Content-Type", "application/x-www-form-urlencoded") }
        let answer = try inProcess.send(
            HTTPMethod(method), target, auth: auth, headers: headers, body: body)
        return RawClient.Response(
            status: answer.status.code, headers: answer.headers.fields.map { ($0.name, $0.value) }, body: answer.body)
    }

    func upstreamCount(_ path: String) throws -> Int {
        inProcess.upstream.requests.filter { $0.pathAndQuery.split(separator: "?").first.map(String.init) == path }
            .count
    }

    func mock(_ method: String, _ path: String, body: String) throws -> RawClient.Response {
        let request = HTTPRequest(method: HTTPMethod(method), target: path, headers: [:], body: Array(body.utf8))
        let answer = mockStudio.control(request, path: path, query: "")
        return RawClient.Response(
            status: answer.status.code, headers: answer.headers.fields.map { ($0.name, $0.value) }, body: answer.body)
    }

    func letTimePass(_ seconds: Double) { inProcess.advance(seconds) }
}

extension MockStudio {
    /// What the mock would answer `request` over HTTP, as the upstream client hands it on: the
    /// end-to-end fields the gateway passes on, an identity body.
    func answer(_ request: UpstreamRequest) -> UpstreamResponse {
        let (path, query) = Self.split(request.pathAndQuery)
        let http = HTTPRequest(
            method: HTTPMethod(request.method), target: request.pathAndQuery, headers: request.headers,
            body: request.body)
        let response = studio(http, path: path, query: query)
        var headers: HTTPHeaders = [:]
        for name in ["Content-Type", "Twilio-Request-Id", "WWW-Authenticate"] {
            if let value = response.headers[name] { headers.add(name, value) }
        }
        return UpstreamResponse(status: response.status, headers: headers, body: response.body)
    }
}
