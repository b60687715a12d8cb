import Cache
import HTTP
import HTTPServer
import Studio
import Upstream

/// Everything that is not a cacheable GET: writes (never cached, never coalesced, never retried)
/// and flow admin paths. Successful writes invalidate what they made outdated (docs/ARCHITECTURE.md, «Cache policy»).
extension Gateway {
    func passThrough(_ forward: Forward, exchange: Exchange) {
        CacheCounters.increment(counters.bypass)
        // A write is let run even if its client leaves: it may already be applied, and its answer
        // still invalidates what it outdated.
        upstream.send(
            forward.upstreamRequest, idempotent: false, admission: admission(of: forward), on: exchange.responder.loop
        ) { [self] result in
            switch result {
            case .failure(let failure):
                finish(exchange, Self.failureResponse(failure), upstreamStatus: 0)
            case .success(let response):
                let answer = UpstreamAnswer(response, view: executionView)
                if answer.isMalformedSuccess {
                    return finish(exchange, Self.failureResponse(.invalidResponse), upstreamStatus: answer.status)
                }
                let learned = learn(from: answer, forward: forward)
                if answer.isSuccess { invalidate(after: forward, answer: answer, account: learned?.0) }
                finish(
                    exchange, passThroughResponse(answer, cacheResult: "BYPASS", forward: forward),
                    upstreamStatus: answer.status)
            }
        }
    }

    func invalidate(after forward: Forward, answer: UpstreamAnswer, account: String?) {
        let route = forward.route
        guard let flow = route.flow?.value, route.resource != .flowAdmin else { return }
        cache.removeGroup(CacheKey.listGroup(flow: flow))
        guard let execution = route.execution?.value, route.resource == .execution else { return }
        switch forward.method {
        case "DELETE":
            cache.removeGroup(execution)
            statuses.forget(execution)
        case "POST":
            // The update answers with the execution as it now is: drop what was short-lived, then
            // store the answer as the fetch (permanent once ended).
            cache.removeGroup(execution) { _, entry in !entry.isPermanent }
            guard let account, let key = CacheKey(account: account, route: route, query: "") else { return }
            let now = clock()
            let status = answer.facts?.status
            let lifetime = policy.lifetime(
                route: route, status: answer.status, endedBeforeRequest: false, bodyStatus: status, now: now)
            if lifetime != .notCached {
                cache.put(key, entry(from: answer, account: account, now: now, lifetime: lifetime))
            }
        default:
            break
        }
    }
}
