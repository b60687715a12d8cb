import Auth
import Cache
import HTTP
import Studio
import Upstream

/// A request that passed every check and goes to the cache or the upstream.
struct Forward: Sendable {
    /// The client's request as parsed (kept whole: its fields are read again only for an upstream call).
    var request: HTTPRequest
    var route: StudioRoute
    var query: String
    var caller: CallerCredential
    var acceptsGzip: Bool

    var method: HTTPMethod { request.method }
    var pathAndQuery: String { route.upstreamPath + (query.isEmpty ? "" : "?" + query) }
    var credential: SHA256Digest { caller.digest }
    var username: String { caller.username }
    /// A cacheable read: a GET of the Executions family (flow admin paths are only forwarded).
    var isCacheableRead: Bool { method == .get && CacheKey.group(of: route) != nil }

    /// The kind of resource a proof covers (restricted API keys differ per kind).
    var family: ResourceFamily { ResourceFamily(route.resource.ordinal) }

    /// Built only when the upstream is called (never on a hit).
    var upstreamRequest: UpstreamRequest {
        UpstreamRequest(
            method: method.rawValue, pathAndQuery: pathAndQuery,
            headers: RequestPlanner.forwardedHeaders(request.headers),
            body: request.body)
    }
}

/// What to do with a request, decided before any I/O.
enum Plan {
    /// Refused by the gateway itself (Twilio's error shape), no upstream call.
    case respond(HTTPResponse)
    case forward(Forward)
}

/// Target checks, routing, methods and credentials. Pure, so it is tested without sockets.
struct RequestPlanner: Sendable {
    /// host[:port] values an absolute-form request target may name.
    let ownAuthorities: [String]

    /// `knownCaller`: the credential this connection's previous request carried.
    func plan(_ request: HTTPRequest, knownCaller: CallerCredential? = nil) -> Plan {
        if request.method == .connect { return .respond(Renderer.error(.badRequest("CONNECT is not supported"))) }
        let target: RequestTarget
        let route: StudioRoute
        // Absolute-form targets must name this gateway as configured; the client's Host header
        // cannot vouch for itself.
        switch RequestTarget.resolve(request.target, ownAuthorities: ownAuthorities) {
        case .failure(.badRequest(let why)): return .respond(Renderer.error(.badRequest(why)))
        case .success((let parsed, .notFound)): return .respond(Renderer.error(.notFound(path: parsed.path)))
        case .success((let parsed, .route(let matched))): (target, route) = (parsed, matched)
        }
        guard route.allows(request.method) else {
            var response = Renderer.error(.methodNotAllowed(request.method))
            response.headers.add("Allow", route.allowedMethods.map(\.rawValue).joined(separator: ", "))
            return .respond(response)
        }
        var caller: CallerCredential? = nil
        _ = request.withField("Authorization") { caller = CallerCredential.derive($0, reusing: knownCaller) }
        guard let caller
        else {
            var response = Renderer.error(.unauthorized)
            response.headers.add("WWW-Authenticate", #"Basic realm="Twilio API""#)
            return .respond(response)
        }
        return .forward(
            Forward(
                request: request, route: route, query: target.query, caller: caller,
                acceptsGzip: Self.acceptsGzip(request)))
    }

    /// The route a refused request matched (401 and 405 are decided after routing), for metrics.
    func refusedRoute(_ request: HTTPRequest, status: HTTPStatus) -> RouteLabel {
        guard status == 401 || status == 405,
            case .success((_, .route(let route))) = RequestTarget.resolve(
                request.target, ownAuthorities: ownAuthorities)
        else { return .unmatched }
        return RouteLabel(route)
    }

    /// The end-to-end request fields Studio needs, and a well-formed W3C trace context; hop-by-hop
    /// and everything else stay here.
    static func forwardedHeaders(_ headers: HTTPHeaders) -> HTTPHeaders {
        var forwarded = HTTPHeaders()
        for name in ["Authorization", "Content-Type", "Accept"] {
            if let value = headers[name] { forwarded.add(name, value) }
        }
        if let trace = TraceContext(headers) {
            forwarded.add("traceparent", trace.traceparent)
            if let state = trace.tracestate { forwarded.add("tracestate", state) }
        }
        let agent = headers["User-Agent"].map { $0 + " " } ?? ""
        forwarded.add("User-Agent", agent + "studiogate/\(StudioGateVersion.current)")
        return forwarded
    }

    /// `Accept-Encoding` names gzip (or x-gzip) with a non-zero q. Runs per request, so it
    /// works on the UTF-8 view without Foundation.
    static func acceptsGzip(_ request: HTTPRequest) -> Bool {
        request.containsToken(in: "Accept-Encoding") { token in
            // coding *( ";" parameter ), read in place: real clients send this on every request.
            var start = 0
            var codingRead = false
            while start <= token.count {
                var end = start
                while end < token.count, token[end] != UInt8(ascii: ";") { end += 1 }
                let part = HTTPRequest.trimmed(UnsafeRawBufferPointer(rebasing: token[start..<end]))
                start = end + 1
                guard codingRead else {
                    guard HTTPRequest.tokenEquals(part, "gzip") || HTTPRequest.tokenEquals(part, "x-gzip") else {
                        return false
                    }
                    codingRead = true
                    continue
                }
                guard part.count >= 2, part[0] | 0x20 == UInt8(ascii: "q"), part[1] == UInt8(ascii: "=") else {
                    continue
                }
                return part.dropFirst(2).contains { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }
            }
            return true
        }
    }
}
