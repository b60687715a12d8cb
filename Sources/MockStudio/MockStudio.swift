import Compression
import Foundation
import HTTP
import HTTPServer
import Locking
import Studio

/// An in-memory, stateful fake of Twilio Studio's v1/v2 Execution APIs (plus Flows), following
/// the OpenAPI specs, with a control API under `/__mock/` for tests. Engagements are not served
/// (404), as Twilio will once they are retired.
public final class MockStudio: HTTPHandler {
    let state = Locked(MockFixtures.seed())
    /// The server's connection counter, for `/__mock/connections` (how many the gateway opened).
    let connections: ConnectionGauge?

    public init(connections: ConnectionGauge? = nil) {
        self.connections = connections
    }

    public func handle(_ request: HTTPRequest, responder: Responder) {
        let (path, query) = Self.split(request.target)
        if path.hasPrefix("/__mock/") {
            responder.respond(control(request, path: path, query: query))
            return
        }
        let fault = state.withLock { state -> MockFault? in
            state.requestCounts["\(request.method) \(path)", default: 0] += 1
            state.lastRequest = (request.method, request.target, request.headers.fields, request.body)
            guard
                let index = state.faults.firstIndex(where: {
                    path.hasPrefix($0.pathPrefix) && ($0.method == nil || $0.method == request.method.rawValue)
                        && Double.random(in: 0..<1) < $0.probability
                })
            else {
                return nil
            }
            let fault = state.faults[index]
            if let remaining = fault.remaining {
                if remaining <= 1 {
                    state.faults.remove(at: index)
                } else {
                    state.faults[index].remaining = remaining - 1
                }
            }
            return fault
        }
        let acceptsGzip = request.headers.tokens("Accept-Encoding").contains { $0.hasPrefix("gzip") }
        guard let fault else {
            responder.respond(Self.encoded(studio(request, path: path, query: query), gzip: acceptsGzip))
            return
        }
        let reply: @Sendable () -> HTTPReply = { [self] in
            if fault.reset { return .resetConnection }
            if let size = fault.gzipBombBytes {
                var headers: HTTPHeaders = ["Content-Type": "application/json", "Content-Encoding": "gzip"]
                headers.add("Twilio-Request-Id", Self.requestID())
                return .response(
                    HTTPResponse(
                        status: 200, headers: headers,
                        body: Zlib.compress([UInt8](repeating: 0, count: size), format: .gzip, level: 9)))
            }
            if fault.truncate {
                return .raw(
                    Array(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"sid\": \"FN"
                            .utf8))
            }
            if let body = fault.body {
                return .response(
                    HTTPResponse(
                        status: HTTPStatus(fault.status ?? 200),
                        headers: ["Content-Type": fault.contentType ?? "text/html"],
                        text: body))
            }
            if let status = fault.status {
                let error = TwilioError(
                    status: HTTPStatus(status), code: fault.code ?? 20000 + status,
                    message: HTTPStatus(status).reasonPhrase)
                return .response(Self.error(error))
            }
            return .response(Self.encoded(studio(request, path: path, query: query), gzip: acceptsGzip))
        }
        if fault.delayMilliseconds > 0 {
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(fault.delayMilliseconds)) {
                responder.reply(reply())
            }
        } else {
            responder.reply(reply())
        }
    }

    // MARK: helpers shared by the Studio and control handlers

    static func split(_ target: String) -> (path: String, query: String) {
        guard let mark = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }

    static func json(_ status: HTTPStatus, _ body: String) -> HTTPResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        headers.add("Twilio-Request-Id", requestID())
        return HTTPResponse(status: status, headers: headers, text: body)
    }

    /// Twilio compresses its JSON for clients that ask (`Accept-Encoding: gzip`); so does the mock.
    static func encoded(_ response: HTTPResponse, gzip: Bool) -> HTTPResponse {
        guard gzip, !response.body.isEmpty else { return response }
        var compressed = response
        compressed.body = Zlib.compress(response.body, format: .gzip, level: 6)
        compressed.headers.add("Content-Encoding", "gzip")
        return compressed
    }

    static func requestID() -> String { "RQ" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }

    /// Twilio's error answer; a 401 carries the Basic challenge exactly as Twilio sends it (which
    /// is what made URLSession hang, waiting for someone to answer it).
    static func error(_ error: TwilioError) -> HTTPResponse {
        var response = json(error.status, error.json)
        if error.status == 401 { response.headers.add("WWW-Authenticate", #"Basic realm="Twilio API""#) }
        return response
    }
}
