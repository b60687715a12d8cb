import Cache
import EventLoop
import HTTP
import Upstream

extension Gateway {
    /// Writes and flow admin paths: never cached, never coalesced, never retried. A write is let
    /// run even if its client leaves (it may already be applied, and its answer still
    /// invalidates what it outdated).
    func write(_ forward: Forward, _ exchange: Exchange) {
        exchange.counters.add(.bypass)
        upstream.send(
            forward.upstreamRequest, idempotent: false, admission: admission(forward, verified: isVerified(forward)),
            on: exchange.client.loop, timeout: nil
        ) { [self] result in
            let answer: UpstreamAnswer
            switch result {
            case .failure(let failure):
                return finish(exchange, Renderer.failure(failure, .bypass), .bypass, upstreamStatus: 0)
            case .success(let response): answer = UpstreamAnswer(response, view: executionView)
            }
            guard !answer.isMalformedSuccess else {
                return finish(
                    exchange, Renderer.failure(.invalidResponse, .bypass), .bypass, upstreamStatus: answer.status.code)
            }
            let loop = exchange.client.loop
            let account = learn(from: answer, forward: forward, on: loop)
            if answer.status.isSuccess {
                let outdated = store.invalidate(
                    after: forward.method, route: forward.route, answer: answer, account: account, now: clock())
                spreadThroughFleet(outdated, on: loop)
            }
            finish(
                exchange, renderer.passThrough(answer, .bypass, forward: forward), .bypass,
                upstreamStatus: answer.status.code)
        }
    }
}
