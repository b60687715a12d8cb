import Auth
import Cache
import HTTP
import HTTPServer
import Studio
import Upstream

/// What the leader of a coalesced miss hands to every waiter.
enum ReadOutcome: Sendable {
    /// A 2xx attributed to `entry.account` (stored or not, per policy), with its identity body so
    /// the miss is answered without inflating what was just compressed.
    case entry(CachedResponse, identity: [UInt8])
    /// An answer passed on as it is (errors, bodies that cannot be attributed to an account).
    case passThrough(UpstreamAnswer)
    case failure(UpstreamFailure)

    /// For the access log: the upstream's status, 0 when it gave no HTTP answer.
    var upstreamStatus: Int {
        switch self {
        case .entry(let entry, _): entry.status
        case .passThrough(let answer): answer.status
        case .failure: 0
        }
    }
}

/// What a coalesced miss hands its waiters: the outcome, and whose credential met it.
struct SharedRead: Sendable {
    let outcome: ReadOutcome
    /// Nil for the gateway's own calls (the readiness probe).
    let leader: SHA256Digest?
}

/// GETs of the Executions family: fresh hit → answer from cache; otherwise one coalesced upstream
/// call whose answer teaches the gateway who the caller is and what has ended.
extension Gateway {
    func read(_ forward: Forward, exchange: Exchange) {
        let now = clock()
        let account = credentials.verifiedAccount(forward.credential, family: forward.family, now: now)
        let key = account.flatMap { CacheKey(account: $0, route: forward.route, query: forward.query) }
        let held = key.flatMap { cache.get($0) }
        if let held, held.isFresh(now: now) {
            CacheCounters.increment(counters.hits)
            finish(exchange, reply(held, cacheResult: "HIT", now: now, forward: forward), upstreamStatus: nil)
            return
        }
        CacheCounters.increment(counters.misses)

        // Callers verified for this account and kind of resource share a miss; unverified ones
        // only with the same credential.
        let coalescingKey =
            (account.map { "account:" + $0 } ?? "credential:\(forward.credential)")
            + " " + forward.route.upstreamPath + CacheKey.canonicalQuery(forward.query)
        let membership = coalescer.join(coalescingKey) { [self] shared in
            // Only a 2xx of this waiter's own account is everyone's; a refusal or failure belongs to
            // the credential that met it, and another credential asks for itself.
            if shared.leader != forward.credential {
                guard case .entry(let entry, _) = shared.outcome, entry.account == account else {
                    return readAlone(forward, exchange: exchange, stale: held)
                }
            }
            finish(
                exchange, response(for: shared.outcome, stale: held, forward: forward),
                upstreamStatus: shared.outcome.upstreamStatus)
        }
        // A client that goes away stops waiting; when nobody waits any more, the call is cancelled.
        exchange.responder.onClientGone { [self] in
            if coalescer.leave(coalescingKey, membership) {
                finish(exchange, Self.clientClosedRequest, upstreamStatus: nil)
            }
        }
        guard membership.isLeader else {
            CacheCounters.increment(counters.coalescedWaits)
            return
        }
        let execution = forward.route.execution?.value
        let endedBeforeRequest = execution.map { statuses.isEnded($0) } ?? false
        let admission: Admission = account == nil ? .unverified(credential: forward.credential.hashValue) : .verified
        let call = upstream.send(
            forward.upstreamRequest, idempotent: true, admission: admission, on: exchange.responder.loop
        ) { [self] result in
            let outcome = absorb(result, forward: forward, endedBeforeRequest: endedBeforeRequest)
            coalescer.complete(coalescingKey, with: SharedRead(outcome: outcome, leader: forward.credential))
        }
        coalescer.onAbandoned(coalescingKey) { call.cancel() }
    }

    /// How the caller queues for an upstream slot: verified credentials before guesses.
    func admission(of forward: Forward) -> Admission {
        credentials.verifiedAccount(forward.credential, family: forward.family, now: clock()) == nil
            ? .unverified(credential: forward.credential.hashValue) : .verified
    }

    /// A waiter whose leader's answer was not its to take: its own upstream call, on its own loop.
    func readAlone(_ forward: Forward, exchange: Exchange, stale: CachedResponse?) {
        let loop = exchange.responder.loop
        loop.execute { [self] in
            let endedBeforeRequest = forward.route.execution.map { statuses.isEnded($0.value) } ?? false
            upstream.send(forward.upstreamRequest, idempotent: true, admission: admission(of: forward), on: loop) {
                [self] result in
                let outcome = absorb(result, forward: forward, endedBeforeRequest: endedBeforeRequest)
                finish(
                    exchange, response(for: outcome, stale: stale, forward: forward),
                    upstreamStatus: outcome.upstreamStatus)
            }
        }
    }

    /// Learns from an upstream answer (credential proof, ended executions) and stores it per policy.
    func absorb(_ result: Result<UpstreamResponse, UpstreamFailure>, forward: Forward, endedBeforeRequest: Bool)
        -> ReadOutcome
    {
        let answer: UpstreamAnswer
        switch result {
        case .failure(let failure): return .failure(failure)
        case .success(let response): answer = UpstreamAnswer(response, view: executionView)
        }
        if answer.isMalformedSuccess { return .failure(.invalidResponse) }
        guard let (account, facts) = learn(from: answer, forward: forward), answer.isSuccess else {
            return .passThrough(answer)
        }
        let now = clock()
        let lifetime = policy.lifetime(
            route: forward.route, status: answer.status, endedBeforeRequest: endedBeforeRequest,
            bodyStatus: forward.route.resource == .execution ? facts.status : nil, now: now)
        let entry = entry(from: answer, account: account, now: now, lifetime: lifetime)
        if lifetime != .notCached, let key = CacheKey(account: account, route: forward.route, query: forward.query) {
            cache.put(key, entry)
        }
        return .entry(entry, identity: answer.body)
    }

    /// Applies the isolation rules (docs/ARCHITECTURE.md) to any upstream answer: 401/403 forgets the credential; a 2xx proves it
    /// for the account the body belongs to and reveals ended executions. Returns that account,
    /// or nil when the answer cannot be attributed to one.
    func learn(from answer: UpstreamAnswer, forward: Forward) -> (String, ExecutionFacts)? {
        if answer.status == 401 {
            credentials.forget(forward.credential)
            return nil
        }
        if answer.status == 403 {
            credentials.forget(forward.credential, family: forward.family)  // e.g. a restricted key on contexts
            return nil
        }
        guard answer.isSuccess else { return nil }
        let facts = answer.facts ?? ExecutionFacts()
        let account: String?
        if forward.username.hasPrefix("AC") {
            // An account's own credential: the body, if it names an account, must agree.
            account = facts.account == nil || facts.account == forward.username ? forward.username : nil
        } else {
            account = facts.account  // API keys (SK…) belong to the account their answers name
        }
        guard let account, SID(account, prefix: "AC") != nil else { return nil }
        credentials.verify(forward.credential, account: account, family: forward.family, now: clock())
        if forward.route.resource == .execution, facts.status == "ended", let sid = forward.route.execution {
            statuses.markEnded(sid.value)
        }
        for item in facts.items where item.status == "ended" { statuses.markEnded(item.sid) }
        return (account, facts)
    }

    func response(for outcome: ReadOutcome, stale: CachedResponse?, forward: Forward) -> HTTPResponse {
        let now = clock()
        switch outcome {
        case .entry(let entry, let identity):
            return reply(entry, cacheResult: "MISS", now: now, forward: forward, identity: identity)
        case .passThrough(let answer):
            if answer.status == 429 || answer.status >= 500, let stale, policy.maySendStale(stale, now: now) {
                CacheCounters.increment(counters.stale)
                return reply(stale, cacheResult: "STALE", now: now, forward: forward)
            }
            return passThroughResponse(answer, cacheResult: "MISS", forward: forward)
        case .failure(let failure):
            if failure != .overloaded, let stale, policy.maySendStale(stale, now: now) {
                CacheCounters.increment(counters.stale)
                return reply(stale, cacheResult: "STALE", now: now, forward: forward)
            }
            // The lookup missed and the upstream was asked: MISS, as /admin/stats counts it.
            var response = Self.failureResponse(failure)
            response.headers.set("X-Cache", "MISS")
            return response
        }
    }
}
