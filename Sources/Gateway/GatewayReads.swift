import Auth
import Cache
import HTTP
import HTTPServer
import Studio
import Upstream

/// What the leader of a coalesced miss hands to every waiter.
enum ReadOutcome: Sendable {
    /// A 2xx attributed to `entry.account` (stored or not, per policy).
    case entry(CachedResponse)
    /// An answer passed on as it is (errors, bodies that cannot be attributed to an account).
    case passThrough(UpstreamResponse)
    case failure(UpstreamFailure)

    /// For the access log: the upstream's status, 0 when it gave no HTTP answer.
    var upstreamStatus: Int {
        switch self {
        case .entry(let entry): entry.status
        case .passThrough(let answer): answer.status
        case .failure: 0
        }
    }
}

/// GETs of the Executions family: fresh hit → answer from cache; otherwise one coalesced upstream
/// call whose answer teaches the gateway who the caller is and what has ended.
extension Gateway {
    func read(_ forward: Forward, exchange: Exchange) {
        let now = clock()
        let account = credentials.verifiedAccount(forward.credential, now: now)
        let key = account.flatMap { CacheKey(account: $0, route: forward.route, query: forward.query) }
        let held = key.flatMap { cache.get($0) }
        if let held, held.isFresh(now: now) {
            CacheCounters.increment(counters.hits)
            finish(exchange, reply(held, cacheResult: "HIT", now: now, forward: forward), upstreamStatus: nil)
            return
        }
        CacheCounters.increment(counters.misses)

        // Verified callers of one account share a miss; unverified ones only with the same credential.
        let coalescingKey = (account.map { "account:" + $0 } ?? "credential:\(forward.credential)")
            + " " + forward.route.upstreamPath + CacheKey.canonicalQuery(forward.query)
        let isLeader = coalescer.join(coalescingKey) { [self] outcome in
            finish(exchange, response(for: outcome, stale: held, forward: forward), upstreamStatus: outcome.upstreamStatus)
        }
        guard isLeader else {
            CacheCounters.increment(counters.coalescedWaits)
            return
        }
        let execution = forward.route.execution?.value
        let endedBeforeRequest = execution.map { statuses.isEnded($0) } ?? false
        upstream.send(forward.upstreamRequest, idempotent: true) { [self] result in
            coalescer.complete(coalescingKey, with: absorb(result, forward: forward, endedBeforeRequest: endedBeforeRequest))
        }
    }

    /// Learns from an upstream answer (credential proof, ended executions) and stores it per policy.
    func absorb(_ result: Result<UpstreamResponse, UpstreamFailure>, forward: Forward, endedBeforeRequest: Bool) -> ReadOutcome {
        let answer: UpstreamResponse
        switch result {
        case .failure(let failure): return .failure(failure)
        case .success(let success): answer = success
        }
        if Self.isMalformedSuccess(answer) { return .failure(.invalidResponse) }
        guard let (account, facts) = learn(from: answer, forward: forward), (200..<300).contains(answer.status) else {
            return .passThrough(answer)
        }
        let now = clock()
        let lifetime = policy.lifetime(route: forward.route, status: answer.status, endedBeforeRequest: endedBeforeRequest,
                                       bodyStatus: forward.route.resource == .execution ? facts.status : nil, now: now)
        let entry = entry(from: answer, account: account, now: now, lifetime: lifetime)
        if lifetime != .notCached, let key = CacheKey(account: account, route: forward.route, query: forward.query) {
            cache.put(key, entry)
        }
        return .entry(entry)
    }

    /// A 2xx whose body is not a JSON object (HTML from a proxy, a truncated or garbled body):
    /// never cached, never attributed, answered 502 (or stale).
    static func isMalformedSuccess(_ answer: UpstreamResponse) -> Bool {
        (200..<300).contains(answer.status) && answer.status != 204 && ExecutionFacts(body: answer.body) == nil
    }

    /// Applies DESIGN §4 to any upstream answer: 401/403 forgets the credential; a 2xx proves it
    /// for the account the body belongs to and reveals ended executions. Returns that account,
    /// or nil when the answer cannot be attributed to one.
    func learn(from answer: UpstreamResponse, forward: Forward) -> (String, ExecutionFacts)? {
        if answer.status == 401 || answer.status == 403 {
            credentials.forget(forward.credential)
            return nil
        }
        guard (200..<300).contains(answer.status) else { return nil }
        let facts = ExecutionFacts(body: answer.body) ?? ExecutionFacts()
        let account: String?
        if forward.username.hasPrefix("AC") {
            // An account's own credential: the body, if it names an account, must agree.
            account = facts.account == nil || facts.account == forward.username ? forward.username : nil
        } else {
            account = facts.account  // API keys (SK…) belong to the account their answers name
        }
        guard let account, SID(account, prefix: "AC") != nil else { return nil }
        credentials.verify(forward.credential, account: account, now: clock())
        if forward.route.resource == .execution, facts.status == "ended", let sid = forward.route.execution {
            statuses.markEnded(sid.value)
        }
        for item in facts.items where item.status == "ended" { statuses.markEnded(item.sid) }
        return (account, facts)
    }

    func response(for outcome: ReadOutcome, stale: CachedResponse?, forward: Forward) -> HTTPResponse {
        let now = clock()
        switch outcome {
        case .entry(let entry):
            return reply(entry, cacheResult: "MISS", now: now, forward: forward)
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
