import Foundation
import HTTP
import HTTPServer
import Studio
import Upstream

/// The request pipeline: target checks → route → credentials → upstream, answering every
/// refusal itself in Twilio's error shape without calling the upstream.
public final class Gateway: HTTPHandler {
    public let config: GatewayConfig
    let upstream: UpstreamClient
    /// host[:port] values an absolute-form request target may name.
    let ownAuthorities: [String]

    public init(config: GatewayConfig) {
        self.config = config
        upstream = UpstreamClient(baseURL: URL(string: config.upstream)!, timeout: config.upstreamTimeout)
        let publicAuthority = URL(string: config.effectivePublicURL).flatMap { url in url.host.map { host in url.port.map { "\(host):\($0)" } ?? host } }
        ownAuthorities = [config.listen] + (publicAuthority.map { [$0] } ?? [])
    }

    public func handle(_ request: HTTPRequest, responder: Responder) {
        switch plan(request) {
        case .respond(let response):
            responder.respond(response)
        case .forward(let upstreamRequest):
            upstream.send(upstreamRequest) { result in
                responder.respond(Self.response(for: result))
            }
        }
    }

    enum Plan {
        case respond(HTTPResponse)
        case forward(UpstreamRequest)
    }

    /// Everything decided before any I/O; pure, so it is tested without sockets.
    func plan(_ request: HTTPRequest) -> Plan {
        if request.method == "CONNECT" { return .respond(Self.error(.badRequest("CONNECT is not supported"))) }
        let target: RequestTarget
        switch RequestTarget.parse(request.target, ownAuthorities: ownAuthorities + request.headers.values("Host")) {
        case .failure(.badRequest(let why)): return .respond(Self.error(.badRequest(why)))
        case .success(let parsed): target = parsed
        }
        guard case .route(let route) = StudioRouter.match(path: target.path) else {
            return .respond(Self.error(.notFound(path: target.path)))
        }
        guard route.allows(request.method) else {
            var response = Self.error(.methodNotAllowed(request.method))
            response.headers.add("Allow", route.allowedMethods.joined(separator: ", "))
            return .respond(response)
        }
        guard BasicCredentials(authorization: request.headers["Authorization"]) != nil else {
            var response = Self.error(.unauthorized)
            response.headers.add("WWW-Authenticate", #"Basic realm="Twilio API""#)
            return .respond(response)
        }
        return .forward(UpstreamRequest(
            method: request.method,
            pathAndQuery: route.upstreamPath + (target.query.isEmpty ? "" : "?" + target.query),
            headers: Self.forwardedHeaders(request.headers),
            body: request.body
        ))
    }

    /// The end-to-end request fields Studio needs; hop-by-hop and everything else stay here.
    static func forwardedHeaders(_ headers: HTTPHeaders) -> HTTPHeaders {
        var forwarded = HTTPHeaders()
        for name in ["Authorization", "Content-Type", "Accept"] {
            if let value = headers[name] { forwarded.add(name, value) }
        }
        let agent = headers["User-Agent"].map { $0 + " " } ?? ""
        forwarded.add("User-Agent", agent + "studiogate/\(StudioGateVersion.current)")
        return forwarded
    }

    static func response(for result: Result<UpstreamResponse, UpstreamFailure>) -> HTTPResponse {
        switch result {
        case .success(let upstream):
            return HTTPResponse(status: upstream.status, headers: upstream.headers, body: upstream.body)
        case .failure(.timeout):
            return error(.gatewayTimeout("The upstream Studio API did not answer in time"))
        case .failure(.unreachable(let why)):
            return error(.badGateway("The upstream Studio API is unreachable: \(why)"))
        }
    }

    static func error(_ error: TwilioError) -> HTTPResponse {
        HTTPResponse(status: error.status, headers: ["Content-Type": "application/json"], text: error.json)
    }

    /// Unreadable requests get the same Twilio-shaped body as every other refusal.
    public func errorResponse(for error: HTTPParseError) -> HTTPResponse {
        let code = error.status == 413 ? 20413 : 20000 + error.status
        return Self.error(TwilioError(status: error.status, code: code, message: error.description))
    }
}
