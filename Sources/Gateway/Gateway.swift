import Auth
import Cache
import EventLoop
import Foundation
import HTTP
import HTTPServer
import Locking
import Studio
import Synchronization
import Upstream

/// The request pipeline: operations endpoints → target checks → route → credentials → cache or
/// upstream. Refusals are answered here in Twilio's error shape without calling the upstream.
public final class Gateway: HTTPHandler {
    public let config: GatewayConfig
    let upstream: UpstreamService
    let cache: ResponseCache
    /// Inflated bodies of hot entries for identity clients: a fixed 1/64 of the cache budget, at most 8 MiB.
    let inflated: InflatedBodies
    let credentials: CredentialBook
    let statuses = ExecutionStatusBook()
    private let policyState: Locked<CachePolicy>
    let coalescer = Coalescer<SharedRead>()
    public let counters: CacheCounters
    let metrics = RequestMetrics()
    public let logger: Logger
    let connections: ConnectionGauge?
    /// Set when shutdown begins: /readyz answers 503 so load balancers stop sending.
    public let draining = Atomic<Bool>(false)
    /// Monotonic seconds; injectable so tests can move time.
    let clock: @Sendable () -> Double
    /// host[:port] values an absolute-form request target may name.
    let ownAuthorities: [String]
    /// Studio's and the upstream's absolute URLs → the public URL (every response).
    let executionView: URLRewrite
    /// Execution → Engagement paths and keys (v1 Engagement routes), applied to the Execution view.
    let engagementView: URLRewrite

    public init(
        config: GatewayConfig, logger: Logger? = nil, connections: ConnectionGauge? = nil,
        clock: @escaping @Sendable () -> Double = { Double(MonotonicClock.now()) / 1e9 }
    ) {
        self.config = config
        self.clock = clock
        self.connections = connections
        self.logger = logger ?? Logger(level: Logger.Level(config.logLevel) ?? .info)
        let counters = CacheCounters()
        self.counters = counters
        let metrics = self.metrics
        var upstreamOptions = UpstreamClient.Options()
        upstreamOptions.timeout = config.upstreamTimeout
        upstreamOptions.caFile = config.upstreamCAFile
        upstreamOptions.maxConnectionsPerLoop = config.upstreamConcurrency
        upstream = UpstreamService(
            client: UpstreamClient(baseURL: config.upstream, options: upstreamOptions),
            maxConcurrency: config.upstreamConcurrency,
            threads: config.threads,
            queueTimeout: min(5, config.upstreamTimeout),
            timeout: config.upstreamTimeout,
            onAttempt: { status, seconds in
                counters.countUpstream(status: status)
                metrics.upstreamLatency.observe(seconds)
                if status != 0 { metrics.lastUpstreamAnswer.store(Int(clock()), ordering: .relaxed) }
            }
        )
        cache = ResponseCache(budgetBytes: config.cacheSize)
        inflated = InflatedBodies(budget: min(8 << 20, config.cacheSize / 64))
        credentials = CredentialBook(ttl: config.authTTL)
        policyState = Locked(CachePolicy(activeTTL: config.activeTTL, staleIfError: config.staleIfError))
        let publicAuthority = URL(string: config.effectivePublicURL).flatMap { url in
            url.host.map { host in url.port.map { "\(host):\($0)" } ?? host }
        }
        ownAuthorities = [config.listen] + (publicAuthority.map { [$0] } ?? [])
        executionView = URLRewrite(
            fromOrigins: ["https://studio.twilio.com", config.upstream], toOrigin: config.effectivePublicURL)
        engagementView = URLRewrite(
            fromOrigins: [config.effectivePublicURL], toOrigin: config.effectivePublicURL, engagementView: true)
    }

    var policy: CachePolicy { policyState.withLock { $0 } }

    /// SIGHUP: the reloadable settings (TTLs, log level) from a re-read configuration.
    public func reload(_ updated: GatewayConfig) {
        policyState.withLock { $0 = CachePolicy(activeTTL: updated.activeTTL, staleIfError: updated.staleIfError) }
        logger.notice(
            "configuration reloaded: active_ttl=\(updated.activeTTL) stale_if_error=\(updated.staleIfError) log_level=\(updated.logLevel)"
        )
        logger.level = Logger.Level(updated.logLevel) ?? logger.level
    }

    public var inFlightRequests: Int { metrics.inFlight.load(ordering: .relaxed) }

    public func handle(_ request: HTTPRequest, responder: Responder) {
        metrics.inFlight.wrappingAdd(1, ordering: .relaxed)
        var exchange = Exchange(method: request.method, target: request.target, started: clock(), responder: responder)
        if request.method == "GET", operationsEndpoint(exchange) { return }
        let knownCaller = responder.connectionMemo as? CallerCredential
        switch plan(request, knownCaller: knownCaller) {
        case .respond(let response):
            exchange.route = refusedRoute(request, status: response.status)
            CacheCounters.increment(counters.bypass)
            finish(exchange, response, upstreamStatus: nil)
        case .forward(let forward):
            if forward.caller !== knownCaller { responder.connectionMemo = forward.caller }
            exchange.route = RouteLabel(forward.route)
            if forward.method == "GET", CacheKey.group(of: forward.route) != nil {
                read(forward, exchange: exchange)
            } else {
                passThrough(forward, exchange: exchange)
            }
        }
    }

    /// One request on its way through: what the access log and metrics need when it is answered.
    struct Exchange: Sendable {
        var method: String
        var target: String
        var started: Double
        var responder: Responder
        var route = RouteLabel.unmatched

        /// The path only: query strings never reach logs. (Cut when needed, not per request.)
        var path: Substring {
            target[..<(target.utf8.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex)]
        }
    }

    func finish(_ exchange: Exchange, _ response: HTTPResponse, upstreamStatus: Int?) {
        let seconds = clock() - exchange.started
        let cacheResult = response.headers["X-Cache"] ?? "-"
        metrics.record(route: exchange.route, status: response.status, cache: cacheResult, seconds: seconds)
        if logger.enabled(.info) {
            logger.access(
                Logger.Access(
                    method: exchange.method, path: String(exchange.path), status: response.status,
                    bytes: response.body.count,
                    durationMs: seconds * 1000, cache: cacheResult, upstreamStatus: upstreamStatus,
                    requestID: response.headers["Twilio-Request-Id"]))
        }
        metrics.inFlight.wrappingSubtract(1, ordering: .relaxed)
        exchange.responder.respond(response)
    }

    /// A request that passed every check and goes to the cache or the upstream.
    struct Forward: Sendable {
        var method: String
        var requestHeaders: HTTPHeaders
        var body: [UInt8]
        var route: StudioRoute
        var query: String
        var caller: CallerCredential
        var acceptsGzip: Bool

        var pathAndQuery: String { route.upstreamPath + (query.isEmpty ? "" : "?" + query) }
        var credential: SHA256Digest { caller.digest }
        /// The kind of resource a proof covers (restricted API keys differ per kind).
        var family: Int {
            switch route.resource {
            case .executionList: 0
            case .execution: 1
            case .executionContext: 2
            case .stepList: 3
            case .step: 4
            case .stepContext: 5
            case .flowAdmin: 6
            }
        }
        var username: String { caller.username }

        /// Built only when the upstream is called (never on a hit).
        var upstreamRequest: UpstreamRequest {
            UpstreamRequest(
                method: method, pathAndQuery: pathAndQuery, headers: Gateway.forwardedHeaders(requestHeaders),
                body: body)
        }
    }

    enum Plan {
        case respond(HTTPResponse)
        case forward(Forward)
    }

    /// Everything decided before any I/O; pure, so it is tested without sockets. `knownCaller`
    /// is the credential this connection's previous request carried.
    func plan(_ request: HTTPRequest, knownCaller: CallerCredential? = nil) -> Plan {
        if request.method == "CONNECT" { return .respond(Self.error(.badRequest("CONNECT is not supported"))) }
        let target: RequestTarget
        // Absolute-form targets must name this gateway as configured; the client's Host header
        // cannot vouch for itself.
        switch RequestTarget.parse(request.target, ownAuthorities: ownAuthorities) {
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
        guard let authorization = request.headers["Authorization"],
            let caller = CallerCredential.derive(authorization, reusing: knownCaller)
        else {
            var response = Self.error(.unauthorized)
            response.headers.add("WWW-Authenticate", #"Basic realm="Twilio API""#)
            return .respond(response)
        }
        return .forward(
            Forward(
                method: request.method,
                requestHeaders: request.headers, body: request.body, route: route, query: target.query,
                caller: caller,
                acceptsGzip: Self.acceptsGzip(request.headers)))
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

    /// `Accept-Encoding` names gzip (or x-gzip) with a non-zero q. Runs per request, so it
    /// works on the UTF-8 view without Foundation.
    static func acceptsGzip(_ headers: HTTPHeaders) -> Bool {
        headers.tokens("Accept-Encoding").contains { token in
            let parts = token.utf8.split(separator: UInt8(ascii: ";")).map(trimmedSpaces)
            guard let coding = parts.first, coding.elementsEqual("gzip".utf8) || coding.elementsEqual("x-gzip".utf8)
            else { return false }
            guard let q = parts.dropFirst().first(where: { $0.starts(with: "q=".utf8) }) else { return true }
            return q.dropFirst(2).contains { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }
        }
    }

    private static func trimmedSpaces(_ bytes: Substring.UTF8View.SubSequence) -> Substring.UTF8View.SubSequence {
        var bytes = bytes
        while bytes.first == UInt8(ascii: " ") || bytes.first == UInt8(ascii: "\t") { bytes = bytes.dropFirst() }
        while bytes.last == UInt8(ascii: " ") || bytes.last == UInt8(ascii: "\t") { bytes = bytes.dropLast() }
        return bytes
    }

    static func error(_ error: TwilioError) -> HTTPResponse {
        HTTPResponse(
            status: error.status, headers: ["Content-Type": "application/json", "X-Cache": "BYPASS"], text: error.json)
    }

    static func failureResponse(_ failure: UpstreamFailure) -> HTTPResponse {
        switch failure {
        case .timeout: error(.gatewayTimeout("The upstream Studio API did not answer in time"))
        case .unreachable(let why): error(.badGateway("The upstream Studio API is unreachable: \(why)"))
        case .overloaded: error(.serviceUnavailable("Too many requests are waiting for the upstream Studio API"))
        case .invalidResponse: error(.badGateway("The upstream Studio API sent a body that is not JSON"))
        case .bodyTooLarge(let limit): error(.badGateway("The upstream Studio API sent a body over \(limit) bytes"))
        case .cancelled: error(.badGateway("The upstream call was cancelled"))
        }
    }

    /// What the access log and metrics record for a client that left before its answer (nginx's 499);
    /// the connection is gone, so nobody reads it.
    static let clientClosedRequest = HTTPResponse(status: 499, headers: ["X-Cache": "MISS"], text: "")

    /// Unreadable requests get the same Twilio-shaped body as every other refusal.
    public func errorResponse(for error: HTTPParseError) -> HTTPResponse {
        recordUnreadable(
            Self.error(TwilioError(status: error.status, code: 20000 + error.status, message: error.description)))
    }
}

/// A route's name in metrics (`v2_execution_context`, `v1_engagement_step`…), kept as a small
/// integer on the request path and turned into text only when /metrics is rendered.
struct RouteLabel: Hashable, Sendable {
    let code: Int

    static let unmatched = RouteLabel(code: 0)
    static let operations = RouteLabel(code: 1)
    private static let resources: [StudioRoute.Resource] = [
        .executionList, .execution, .executionContext, .stepList, .step, .stepContext, .flowAdmin,
    ]

    private init(code: Int) { self.code = code }

    init(_ route: StudioRoute) {
        let resource = Self.resources.firstIndex(of: route.resource)!
        code =
            2 + ((route.version == .v1 ? 0 : 1) * Self.resources.count + resource) * 2 + (route.viaEngagements ? 1 : 0)
    }

    var name: String {
        if code == 0 { return "unmatched" }
        if code == 1 { return "operations" }
        let index = (code - 2) / 2
        var resource = Self.resources[index % Self.resources.count].rawValue
        if (code - 2) % 2 == 1 { resource = resource.replacingOccurrences(of: "execution", with: "engagement") }
        let version = index / Self.resources.count == 0 ? "v1" : "v2"
        var snake = ""
        for character in resource {
            if character.isUppercase { snake += "_" + character.lowercased() } else { snake.append(character) }
        }
        return version + "_" + snake
    }
}
