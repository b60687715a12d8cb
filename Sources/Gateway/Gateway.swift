import Auth
import Cache
import EventLoop
import Fleet
import Foundation
import HTTP
import HTTPServer
import Studio
import Synchronization
import Upstream

/// The request pipeline, top to bottom: plan → cache → upstream → store → render. Refusals are
/// answered in Twilio's error shape without calling the upstream. Each step is a collaborator with
/// one job: `RequestPlanner`, `EntryStore`, `UpstreamTransport`, `CredentialLearning`, `Renderer`,
/// `Telemetry`; the operations endpoints live in `Operations`.
public final class Gateway: HTTPHandler {
    public let config: GatewayConfig
    public let logger: Logger
    let draining = DrainingFlag()
    /// Monotonic seconds; injectable so tests can move time.
    let clock: @Sendable () -> Double
    /// Seconds since 1970 (Studio's dates, the snapshot's and the fleet's times).
    let wallClock: @Sendable () -> Double
    let planner: RequestPlanner
    let credentials: CredentialBook
    let store: EntryStore
    let upstream: any UpstreamTransport
    let learning: CredentialLearning
    let renderer: Renderer
    let telemetry = Telemetry()
    /// The fleet (`--redis`), the second level shared with other pods; nil when caching alone.
    let fleet: Fleet?
    /// Identical concurrent misses on this pod make one upstream call.
    let coalescer = Coalescer<CoalescedRead>()
    let operations: Operations
    /// Studio's and the upstream's absolute URLs → the public URL (every response).
    let executionView: URLRewrite
    /// What the admin listener may see and do.
    public let administration: CacheAdministration
    /// Who still calls the v1 Engagement routes (`GET /admin/engagements`, the status page).
    let engagements = EngagementCallers()
    /// Request rate and hit ratio every 10 s, for the status page's chart.
    let history: RateHistory

    public convenience init(
        config: GatewayConfig, logger: Logger? = nil, connections: ConnectionGauge? = nil,
        clock: @escaping @Sendable () -> Double = { Double(MonotonicClock.now()) / 1e9 }
    ) {
        self.init(
            config: config, logger: logger, connections: connections, clock: clock,
            wallClock: { Date().timeIntervalSince1970 }, upstream: nil)
    }

    /// `upstream` nil: libcurl to `config.upstream`; tests pass a scripted one.
    init(
        config: GatewayConfig, logger: Logger?, connections: ConnectionGauge?, clock: @escaping @Sendable () -> Double,
        wallClock: @escaping @Sendable () -> Double, upstream: (any UpstreamTransport)?
    ) {
        self.config = config
        self.clock = clock
        self.wallClock = wallClock
        history = RateHistory(startedAt: clock())
        self.logger = logger ?? Logger(level: Logger.Level(config.logLevel) ?? .info)
        let publicURL = URL(string: config.effectivePublicURL)
        let publicAuthority = publicURL.flatMap { url in
            url.host.map { host in url.port.map { "\(host):\($0)" } ?? host }
        }
        planner = RequestPlanner(ownAuthorities: [config.listen] + (publicAuthority.map { [$0] } ?? []))
        credentials = CredentialBook(ttl: config.authTTL)
        let forms = EntryForms(
            engagementView: URLRewrite(
                fromOrigins: [config.effectivePublicURL], toOrigin: config.effectivePublicURL, engagementView: true))
        store = EntryStore(
            cache: ResponseCache(budgetBytes: config.cacheSize),
            policy: CachePolicy(
                activeTTL: config.activeTTL, staleIfError: config.staleIfError, retention: config.retention),
            forms: forms, clock: clock, wallClock: wallClock)
        self.upstream = upstream ?? Self.libcurl(config, telemetry: telemetry, clock: clock)
        fleet = Self.fleet(
            config, firstLevel: store, credentials: credentials, clock: clock, wallClock: wallClock, logger: self.logger
        )
        learning = CredentialLearning(credentials: credentials, statuses: store.statuses)
        renderer = Renderer(forms: forms, inflated: InflatedBodies(budget: min(8 << 20, config.cacheSize / 64)))
        executionView = URLRewrite(
            fromOrigins: ["https://studio.twilio.com", config.upstream], toOrigin: config.effectivePublicURL)
        let gauges = Telemetry.Gauges(
            store: store, inflated: renderer.inflated, credentials: credentials, connections: connections,
            upstream: self.upstream, fleet: fleet, engagements: engagements,
            draining: draining)
        operations = Operations(
            telemetry: telemetry, gauges: gauges, upstream: self.upstream, clock: clock, draining: draining)
        administration = CacheAdministration(
            store: store, fleet: fleet, telemetry: telemetry, gauges: gauges, logger: self.logger, clock: clock,
            config: config, engagements: engagements, history: history, wallClock: wallClock)
    }

    /// SIGHUP: the reloadable settings (TTLs, log level) from a re-read configuration.
    public func reload(_ updated: GatewayConfig) {
        store.policy = CachePolicy(
            activeTTL: updated.activeTTL, staleIfError: updated.staleIfError, retention: updated.retention)
        logger.notice(
            "configuration reloaded: active_ttl=\(updated.activeTTL) stale_if_error=\(updated.staleIfError)"
                + " log_level=\(updated.logLevel)")
        logger.level = Logger.Level(updated.logLevel) ?? logger.level
    }

    /// The server's loops: the fleet's Redis connections are opened on each now, so the first
    /// requests do not wait for them.
    public func serve(on loops: [EventLoop]) {
        fleet?.start(on: loops)
        if let first = loops.first { history.sample(on: first, telemetry: telemetry, clock: clock) }
        sweepPastRetention(on: loops.first)
    }

    /// Once a minute, on one loop, what has outlived its retention bound leaves memory even if
    /// nobody asks for it again (a hit drops it at once).
    private func sweepPastRetention(on loop: EventLoop?) {
        guard let loop, config.retention > 0 else { return }
        let store = self.store
        let clock = self.clock
        loop.execute {
            var last = clock()
            loop.addTicker {
                guard clock() - last >= 60 else { return }
                last = clock()
                store.sweepPastRetention()
            }
        }
    }

    /// The process is ending: the fleet's subscription and its loop stop.
    public func shutdown() { fleet?.stop() }

    /// Shutdown has begun: /readyz answers 503 from now on.
    public func beginDraining() { draining.set() }

    public var inFlightRequests: Int { telemetry.total(.inFlight) }

    public func handle(_ request: HTTPRequest, responder: Responder) { serve(request, client: responder) }

    func serve(_ request: HTTPRequest, client: any ClientChannel) {
        let memo = client.memo ?? remember(client)
        memo.counters.add(.inFlight)
        var exchange = Exchange(
            method: request.method, target: request.target, started: clock(), client: client, counters: memo.counters)
        if logger.enabled(.info) { exchange.identity = AccessIdentity(request) }
        if request.method == .get, operations.isOperationsPath(request.target) {
            exchange.route = .operations
            return operations.answer(exchange.path, on: client.loop) { [self, exchange] response, upstreamStatus in
                finish(exchange, response, nil, upstreamStatus: upstreamStatus)
            }
        }
        switch planner.plan(request, knownCaller: memo.caller) {
        case .respond(let response):
            exchange.route = planner.refusedRoute(request, status: response.status)
            memo.counters.add(.bypass)
            finish(exchange, response, .bypass)
        case .forward(let forward):
            if forward.caller !== memo.caller { memo.caller = forward.caller }
            exchange.route = RouteLabel(forward.route)
            if exchange.identity != nil { exchange.identity?.caller = CallerName.user(forward.username) }
            if forward.route.viaEngagements { engagements.record(forward, route: exchange.route, at: wallClock()) }
            if forward.isCacheableRead { read(forward, exchange) } else { write(forward, exchange) }
        }
    }

    /// A connection's first request: its loop's counters are looked up once for all of its requests.
    private func remember(_ client: any ClientChannel) -> ConnectionMemo {
        let memo = ConnectionMemo(counters: telemetry.counters(on: client.loop))
        client.memo = memo
        return memo
    }

    /// A fresh hit answers from the cache; otherwise one coalesced upstream call per key, whose
    /// answer teaches the gateway who the caller is and what has ended.
    func read(_ forward: Forward, _ exchange: Exchange) {
        // The request's own start is "now" until something waits (one clock read per hit).
        let account = forward.caller.verifiedAccount(in: credentials, family: forward.family, now: exchange.started)
        guard account == nil, let fleet else {
            return read(forward, exchange, account: account, now: exchange.started)
        }
        // Another pod of the fleet may have proven this credential already.
        fleet.proof(for: forward.credential, family: forward.family, on: exchange.client.loop) { [self] proven in
            read(forward, exchange, account: proven, now: clock())
        }
    }

    private func read(_ forward: Forward, _ exchange: Exchange, account: String?, now: Double) {
        let held = account.flatMap { CacheKey(account: $0, route: forward.route, query: forward.query) }
            .flatMap { store.entry(for: $0) }
        if let held, held.isFresh(now: now) {
            exchange.counters.add(.hits)
            return finish(exchange, reply(held, .hit, now: now, forward: forward), .hit)
        }
        let stale = held.flatMap { dropIfPastRetention($0, forward: forward, now: now) }
        exchange.counters.add(.misses)
        // Callers verified for this account and kind of resource share a miss; unverified ones
        // only with the same credential.
        let key =
            (account.map { "account:" + $0 } ?? "credential:\(forward.credential)") + " "
            + forward.route.upstreamPath + CacheKey.canonicalQuery(forward.query)
        let membership = coalescer.join(key) { [self] coalesced in
            deliver(coalesced, to: exchange, forward: forward, account: account, stale: stale)
        }
        // A client that goes away stops waiting; when nobody waits any more, the call is cancelled.
        exchange.client.onClientGone { [self] in
            if coalescer.leave(key, membership) { finish(exchange, Self.clientClosedRequest, .miss) }
        }
        guard membership.isLeader else { return exchange.counters.add(.coalescedWaits) }
        lead(forward, coalescing: key, account: account, on: exchange.client.loop)
    }

    /// `entry`, unless it is past its retention bound: then it is dropped (Twilio has deleted its
    /// data: neither a hit nor stale).
    private func dropIfPastRetention(_ entry: CachedResponse, forward: Forward, now: Double) -> CachedResponse? {
        guard entry.isPastRetention(now: now) else { return entry }
        if let key = CacheKey(account: entry.account, route: forward.route, query: forward.query) {
            store.dropPastRetention(key, entry)
        }
        return nil
    }

    /// The leader's miss: one upstream call (through the fleet for a verified caller), whose
    /// outcome every waiter of `key` is handed.
    private func lead(_ forward: Forward, coalescing key: String, account: String?, on loop: EventLoop) {
        let complete = { [self] (outcome: ReadOutcome) in
            coalescer.complete(key, with: CoalescedRead(outcome: outcome, leader: forward.credential))
        }
        if let account, let read = readThroughFleet(forward, account: account, on: loop, complete: complete) {
            return coalescer.onAbandoned(key) { read.cancel() }
        }
        let call = fetch(forward, verified: account != nil, on: loop, completion: complete)
        coalescer.onAbandoned(key) { call.cancel() }
    }

    /// A waiter's share of a coalesced miss. Only a 2xx of this waiter's own account is
    /// everyone's; a refusal or failure belongs to the credential that met it, and another
    /// credential asks for itself.
    private func deliver(
        _ coalesced: CoalescedRead, to exchange: Exchange, forward: Forward, account: String?,
        stale held: CachedResponse?
    ) {
        if coalesced.leader != forward.credential {
            guard let owner = coalesced.outcome.entryAccount, owner == account else {
                return readAlone(forward, exchange, stale: held)
            }
        }
        answer(exchange, coalesced.outcome, stale: held, forward: forward)
    }

    /// A waiter whose leader's answer was not its to take: its own upstream call, on its own loop.
    private func readAlone(_ forward: Forward, _ exchange: Exchange, stale: CachedResponse?) {
        exchange.client.loop.execute { [self] in
            fetch(forward, verified: isVerified(forward), on: exchange.client.loop) { [self] outcome in
                answer(exchange, outcome, stale: stale, forward: forward)
            }
        }
    }

    /// One upstream call for a read, absorbed: learned from, stored per policy.
    @discardableResult
    func fetch(
        _ forward: Forward, verified: Bool, on loop: EventLoop, completion: @escaping (ReadOutcome) -> Void
    ) -> UpstreamCall {
        let endedBeforeRequest = store.isEnded(forward.route.execution)
        return upstream.send(
            forward.upstreamRequest, idempotent: true, admission: admission(forward, verified: verified), on: loop,
            timeout: nil
        ) { [self] result in
            let outcome = absorb(result, forward: forward, endedBeforeRequest: endedBeforeRequest, on: loop)
            shareWithFleet(outcome, forward: forward, on: loop)
            completion(outcome)
        }
    }

    private func absorb(
        _ result: Result<UpstreamResponse, UpstreamFailure>, forward: Forward, endedBeforeRequest: Bool,
        on loop: EventLoop
    ) -> ReadOutcome {
        let answer: UpstreamAnswer
        switch result {
        case .failure(let failure): return .failure(failure)
        case .success(let response): answer = UpstreamAnswer(response, view: executionView)
        }
        if answer.isMalformedSuccess { return .failure(.invalidResponse) }
        guard let account = learn(from: answer, forward: forward, on: loop),
            answer.status.isSuccess
        else {
            return .passThrough(answer)
        }
        let stored = store.store(
            answer, account: account, route: forward.route, query: forward.query,
            endedBeforeRequest: endedBeforeRequest, engagementView: forward.route.viaEngagements, now: clock())
        return .entry(stored.entry, stored.bodies)
    }

    /// Renders a read's outcome, or the expired entry still held when the upstream failed.
    private func answer(_ exchange: Exchange, _ outcome: ReadOutcome, stale: CachedResponse?, forward: Forward) {
        let now = clock()
        if outcome.upstreamFailed, let stale, store.policy.maySendStale(stale, now: now) {
            exchange.counters.add(.stale)
            let response = reply(stale, .stale, now: now, forward: forward)
            return finish(exchange, response, .stale, upstreamStatus: outcome.upstreamStatus)
        }
        let response: HTTPResponse
        switch outcome {
        case .entry(let entry, let bodies):
            response = reply(entry, .miss, now: now, forward: forward, fresh: bodies)
        case .fromFleet(let entry):
            return finish(exchange, reply(entry, .fleetHit, now: now, forward: forward), .fleetHit)
        case .passThrough(let answer): response = renderer.passThrough(answer, .miss, forward: forward)
        case .failure(let failure): response = Renderer.failure(failure, .miss)
        }
        finish(exchange, response, .miss, upstreamStatus: outcome.upstreamStatus)
    }

    /// An entry rendered for this client; a form the renderer made for it is kept with the entry.
    @inline(__always)
    private func reply(
        _ entry: CachedResponse, _ outcome: CacheOutcome, now: Double, forward: Forward, fresh: FreshBodies? = nil
    ) -> HTTPResponse {
        var kept: CachedResponse? = nil
        let response = renderer.reply(entry, outcome, now: now, forward: forward, fresh: fresh, keep: &kept)
        if let kept { store.keep(kept, replacing: entry, route: forward.route, query: forward.query) }
        return response
    }

    func isVerified(_ forward: Forward) -> Bool {
        credentials.verifiedAccount(forward.credential, family: forward.family, now: clock()) != nil
    }

    /// How the caller queues for an upstream slot: verified credentials before guesses.
    func admission(_ forward: Forward, verified: Bool) -> Admission {
        verified ? .verified : .unverified(credential: forward.credential.hashValue)
    }
}
