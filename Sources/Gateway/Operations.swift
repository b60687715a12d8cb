import Cache
import HTTP
import Studio
import Upstream

/// `/healthz`, `/readyz` and `/metrics` on the main listener; never forwarded.
extension Gateway {
    /// Answers an operations endpoint; false when `exchange` is not one.
    func operationsEndpoint(_ exchange: Exchange) -> Bool {
        // Every request passes here: Studio paths (/v1, /v2) are let go without cutting the path.
        guard exchange.target.utf8.dropFirst().first != UInt8(ascii: "v") else { return false }
        var exchange = exchange
        exchange.route = .operations
        switch exchange.path {
        case "/healthz":
            finish(exchange, Self.text(200, "ok\n"), upstreamStatus: nil)
        case "/readyz":
            // The pod's readiness: listening, configured and not draining. Studio's health is not
            // the application's: an outage must not take the app out of its Service (/upstreamz).
            let draining = draining.load(ordering: .relaxed)
            finish(exchange, draining ? Self.text(503, "draining\n") : Self.text(200, "ready\n"), upstreamStatus: nil)
        case "/upstreamz":
            upstreamReachability(exchange)
        case "/metrics":
            var response = Self.text(200, renderMetrics())
            response.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            finish(exchange, response, upstreamStatus: nil)
        default:
            return false
        }
        return true
    }

    /// 200 when the upstream answered anything (any HTTP status) in the last 30 s; otherwise one
    /// probe of `GET /`, through the same limiter as every call and shared by concurrent askers.
    private func upstreamReachability(_ exchange: Exchange) {
        if Int(clock()) - metrics.lastUpstreamAnswer.load(ordering: .relaxed) < 30 {
            return finish(exchange, Self.text(200, "reachable\n"), upstreamStatus: nil)
        }
        let key = "upstream-probe"
        let membership = coalescer.join(key) { [self] shared in
            let outcome = shared.outcome
            switch outcome {
            case .failure(let failure):
                finish(exchange, Self.text(503, "upstream unreachable: \(failure)\n"), upstreamStatus: 0)
            default: finish(exchange, Self.text(200, "reachable\n"), upstreamStatus: outcome.upstreamStatus)
            }
        }
        guard membership.isLeader else { return }
        let probe = UpstreamRequest(
            method: "GET", pathAndQuery: "/",
            headers: ["User-Agent": "studiogate/\(StudioGateVersion.current) readiness"])
        upstream.send(probe, idempotent: false, on: exchange.responder.loop, timeout: 2) { [self] result in
            switch result {
            case .success(let answer):
                coalescer.complete(
                    key,
                    with: SharedRead(outcome: .passThrough(UpstreamAnswer(answer, view: executionView)), leader: nil))
            case .failure(let failure):
                coalescer.complete(key, with: SharedRead(outcome: .failure(failure), leader: nil))
            }
        }
    }

    static func text(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: ["Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"],
            text: body)
    }

    /// Prometheus text format 0.0.4.
    func renderMetrics() -> String {
        let stats = cache.stats
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String, _ samples: [String]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            lines.append(contentsOf: samples)
        }
        family(
            "studiogate_build_info", "gauge", "Build information.",
            ["studiogate_build_info{version=\"\(StudioGateVersion.current)\"} 1"])
        family(
            "studiogate_requests_total", "counter", "Requests answered, by route, status and cache result.",
            metrics.renderRequests())
        family(
            "studiogate_request_duration_seconds", "histogram", "Time from a parsed request to its answer.",
            metrics.requestLatency.render("studiogate_request_duration_seconds"))
        family(
            "studiogate_requests_in_flight", "gauge", "Requests being answered.",
            ["studiogate_requests_in_flight \(inFlightRequests)"])
        let results: [(String, Int)] = [
            ("hit", counters.hits.load(ordering: .relaxed)), ("miss", counters.misses.load(ordering: .relaxed)),
            ("stale", counters.stale.load(ordering: .relaxed)), ("bypass", counters.bypass.load(ordering: .relaxed)),
        ]
        family(
            "studiogate_cache_requests_total", "counter", "Cache lookups by result.",
            results.map { "studiogate_cache_requests_total{result=\"\($0.0)\"} \($0.1)" })
        family(
            "studiogate_coalesced_waits_total", "counter",
            "Misses that waited for an identical in-flight upstream call.",
            ["studiogate_coalesced_waits_total \(counters.coalescedWaits.load(ordering: .relaxed))"])
        family(
            "studiogate_upstream_requests_total", "counter", "Upstream calls by status (0 = no HTTP answer).",
            counters.upstreamCallsByStatus.sorted { $0.key < $1.key }.map {
                "studiogate_upstream_requests_total{status=\"\($0.key)\"} \($0.value)"
            })
        family(
            "studiogate_upstream_duration_seconds", "histogram", "Upstream call latency.",
            metrics.upstreamLatency.render("studiogate_upstream_duration_seconds"))
        family(
            "studiogate_upstream_in_flight", "gauge", "Upstream calls in flight.",
            ["studiogate_upstream_in_flight \(upstream.inFlight)"])
        let links = upstream.client.stats
        family(
            "studiogate_upstream_connections_total", "counter",
            "Upstream calls by connection: a new one (opened) or one kept alive or multiplexed (reused).",
            [
                "studiogate_upstream_connections_total{kind=\"opened\"} \(links.connectionsOpened.load(ordering: .relaxed))",
                "studiogate_upstream_connections_total{kind=\"reused\"} \(links.connectionsReused.load(ordering: .relaxed))",
            ])
        family(
            "studiogate_upstream_tls_handshakes_total", "counter", "TLS handshakes with the upstream.",
            ["studiogate_upstream_tls_handshakes_total \(links.tlsHandshakes.load(ordering: .relaxed))"])
        family(
            "studiogate_upstream_calls_by_version_total", "counter", "Finished upstream calls by HTTP version.",
            [
                "studiogate_upstream_calls_by_version_total{version=\"1.1\"} \(links.http1Calls.load(ordering: .relaxed))",
                "studiogate_upstream_calls_by_version_total{version=\"2\"} \(links.http2Calls.load(ordering: .relaxed))",
            ])
        family(
            "studiogate_upstream_writes_not_resent_total", "counter",
            "Writes answered 502 because their connection failed after they may have been sent.",
            ["studiogate_upstream_writes_not_resent_total \(links.writesNotResent.load(ordering: .relaxed))"])
        family("studiogate_cache_entries", "gauge", "Entries held.", ["studiogate_cache_entries \(stats.entries)"])
        family(
            "studiogate_cache_bytes", "gauge", "Bytes charged against the budget.",
            ["studiogate_cache_bytes \(stats.bytes)"])
        family(
            "studiogate_cache_budget_bytes", "gauge", "The cache byte budget.",
            ["studiogate_cache_budget_bytes \(cache.budget)"])
        family(
            "studiogate_inflated_bytes", "gauge",
            "Inflated bodies of hot entries kept for identity clients (bounded by 1/64 of the budget, at most 8 MiB).",
            ["studiogate_inflated_bytes \(inflated.bytes)"])
        family(
            "studiogate_cache_evictions_total", "counter", "Entries evicted for space.",
            ["studiogate_cache_evictions_total \(stats.evictions)"])
        family(
            "studiogate_open_connections", "gauge", "Open client connections.",
            ["studiogate_open_connections \(connections?.value ?? 0)"])
        family(
            "studiogate_verified_credentials", "gauge", "Credentials currently proven for an account (digests only).",
            ["studiogate_verified_credentials \(credentials.count)"])
        return lines.joined(separator: "\n") + "\n"
    }
}
