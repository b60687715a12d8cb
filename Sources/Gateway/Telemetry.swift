import Auth
import Cache
import EventLoop
import Fleet
import HTTP
import HTTPServer
import Locking
import Synchronization
import Upstream

/// Every counter the gateway keeps, and both of their renderings: `/metrics` (Prometheus text) and
/// `/admin/stats` (JSON). What every request adds to is kept per loop (`LoopCounters`) and summed
/// here when read; the rest are relaxed atomics or short locks. Nothing here blocks a loop.
final class Telemetry: Sendable {
    /// Monotonic second of the last HTTP answer from the upstream (any status), for /upstreamz.
    let lastUpstreamAnswer = Atomic<Int>(Int.min / 2)
    let upstreamLatency = Histogram()
    /// Answers counted with no loop at hand: the server's refusals of unreadable requests.
    let unlooped = LoopCounters()
    private let loopCounters = Locked<[LoopCounters]>([])
    private let rareRequests = Locked<[RequestCounts.Label: Int]>([:])
    private let upstreamStatuses = Locked<[Int: Int]>([:])

    /// `loop`'s own set, made on its first request. Loop thread only.
    func counters(on loop: EventLoop) -> LoopCounters {
        loop.local(for: self) {
            let made = LoopCounters()
            loopCounters.withLock { $0.append(made) }
            return made
        }
    }

    /// `counter` summed over every loop.
    func total(_ counter: LoopCounters.Counter) -> Int { everySet.reduce(0) { $0 + $1[counter] } }

    private var everySet: [LoopCounters] { [unlooped] + loopCounters.withLock { $0 } }

    /// One answered request, counted in `counters` (its loop's). `seconds` nil: counted, but kept
    /// out of the latency histogram (requests that were never read whole).
    func record(
        route: RouteLabel, status: HTTPStatus, cache: CacheOutcome?, seconds: Double?, in counters: LoopCounters
    ) {
        let label = RequestCounts.Label(route: route, status: status, cache: cache)
        if !counters.count(label) { rareRequests.withLock { $0[label, default: 0] += 1 } }
        if let seconds { counters.observeLatency(seconds) }
    }

    /// Request latency over every loop.
    var requestLatency: HistogramCounts {
        let sets = everySet
        return sets.dropFirst().reduce(sets[0].latency) { $0 + $1.latency }
    }

    /// Upstream attempts by status (0 = no HTTP answer).
    var upstreamStatusCounts: [Int: Int] { upstreamStatuses.withLock { $0 } }

    /// Every label answered at least once, with its count over every loop.
    var requestCounts: [RequestCounts.Label: Int] {
        var counts = rareRequests.withLock { $0 }
        let sets = everySet
        for slot in 0..<RequestCounts.slots {
            let count = sets.reduce(0) { $0 + $1.requests(at: slot) }
            if count > 0 { counts[RequestCounts.label(at: slot)] = count }
        }
        return counts
    }

    /// One upstream attempt: its status (0 = no HTTP answer) and duration; `now` in monotonic seconds.
    func recordUpstreamAttempt(status: Int, seconds: Double, now: Double) {
        upstreamStatuses.withLock { $0[status, default: 0] += 1 }
        upstreamLatency.observe(seconds)
        if status != 0 { lastUpstreamAnswer.store(Int(now), ordering: .relaxed) }
    }

    /// What the rest of the gateway holds that /metrics and /admin/stats report as gauges.
    struct Gauges: Sendable {
        let store: EntryStore
        let inflated: InflatedBodies
        let credentials: CredentialBook
        let connections: ConnectionGauge?
        let upstream: any UpstreamTransport
        let fleet: Fleet?
        let engagements: EngagementCallers
        /// Set once shutdown begins (/readyz 503).
        let draining: DrainingFlag
    }

    /// Prometheus text format 0.0.4.
    func renderMetrics(_ gauges: Gauges) -> String {
        let stats = gauges.store.stats
        let links = gauges.upstream.stats
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String, _ samples: [String]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            lines.append(contentsOf: samples)
        }
        func load(_ counter: borrowing Atomic<Int>) -> Int { counter.load(ordering: .relaxed) }
        family(
            "studiogate_build_info", "gauge", "Build information.",
            [sample("studiogate_build_info", "version=\"\(StudioGateVersion.current)\"", 1)])
        family(
            "studiogate_ready", "gauge", "1 while /readyz answers 200 (listening and not draining), 0 once draining.",
            [sample("studiogate_ready", gauges.draining.isSet ? 0 : 1)])
        family(
            "studiogate_requests_total", "counter", "Requests answered, by route, status and cache result.",
            renderRequests())
        let latency = requestLatency
        family(
            "studiogate_request_duration_seconds", "histogram", "Time from a parsed request to its answer.",
            latency.render("studiogate_request_duration_seconds", buckets: Histogram.latencyBuckets))
        family(
            "studiogate_requests_in_flight", "gauge", "Requests being answered.",
            [sample("studiogate_requests_in_flight", total(.inFlight))])
        let results = [
            ("hit", total(.hits)), ("miss", total(.misses)), ("stale", total(.stale)), ("bypass", total(.bypass)),
        ]
        family(
            "studiogate_cache_requests_total", "counter", "Cache lookups by result.",
            results.map { sample("studiogate_cache_requests_total", "result=\"\($0.0)\"", $0.1) })
        family(
            "studiogate_coalesced_waits_total", "counter",
            "Misses that waited for an identical in-flight upstream call.",
            [sample("studiogate_coalesced_waits_total", total(.coalescedWaits))])
        family(
            "studiogate_upstream_requests_total", "counter", "Upstream calls by status (0 = no HTTP answer).",
            upstreamStatuses.withLock { $0 }.sorted { $0.key < $1.key }.map {
                sample("studiogate_upstream_requests_total", "status=\"\($0.key)\"", $0.value)
            })
        family(
            "studiogate_upstream_duration_seconds", "histogram", "Upstream call latency.",
            upstreamLatency.render("studiogate_upstream_duration_seconds"))
        family(
            "studiogate_upstream_in_flight", "gauge", "Upstream calls in flight.",
            [sample("studiogate_upstream_in_flight", gauges.upstream.inFlight)])
        family(
            "studiogate_upstream_connections_total", "counter",
            "Upstream calls by connection: a new one (opened) or one kept alive or multiplexed (reused).",
            [
                sample("studiogate_upstream_connections_total", "kind=\"opened\"", load(links.connectionsOpened)),
                sample("studiogate_upstream_connections_total", "kind=\"reused\"", load(links.connectionsReused)),
            ])
        family(
            "studiogate_upstream_tls_handshakes_total", "counter", "TLS handshakes with the upstream.",
            [sample("studiogate_upstream_tls_handshakes_total", load(links.tlsHandshakes))])
        family(
            "studiogate_upstream_calls_by_version_total", "counter", "Finished upstream calls by HTTP version.",
            [
                sample("studiogate_upstream_calls_by_version_total", "version=\"1.1\"", load(links.http1Calls)),
                sample("studiogate_upstream_calls_by_version_total", "version=\"2\"", load(links.http2Calls)),
            ])
        family(
            "studiogate_upstream_retries_total", "counter",
            "Upstream attempts after the first: a 429 or a failure to connect, backed off and sent again.",
            [sample("studiogate_upstream_retries_total", load(links.retries))])
        family(
            "studiogate_upstream_writes_not_resent_total", "counter",
            "Writes answered 502 because their connection failed after they may have been sent.",
            [sample("studiogate_upstream_writes_not_resent_total", load(links.writesNotResent))])
        family(
            "studiogate_upstream_header_values_dropped_total", "counter",
            "Header values from the upstream not passed on: control or non-ASCII bytes, a malformed request id.",
            [sample("studiogate_upstream_header_values_dropped_total", load(links.upstreamFieldsDropped))])
        if let fleet = gauges.fleet {
            let redis = fleet.client.stats
            family(
                "studiogate_second_level_requests_total", "counter",
                "Second-level (Redis) lookups by result; refused: a value that did not decode or named another account.",
                [
                    sample("studiogate_second_level_requests_total", "result=\"hit\"", load(fleet.hits)),
                    sample("studiogate_second_level_requests_total", "result=\"miss\"", load(fleet.misses)),
                    sample("studiogate_second_level_requests_total", "result=\"refused\"", load(fleet.refused)),
                ])
            family(
                "studiogate_second_level_errors_total", "counter",
                "Redis commands that failed (timeouts, errors, refused by the open circuit).",
                [sample("studiogate_second_level_errors_total", load(redis.errors))])
            family(
                "studiogate_second_level_redirections_total", "counter",
                "Redis Cluster redirections followed: moved (the slot has a new owner), ask (it is migrating).",
                [
                    sample(
                        "studiogate_second_level_redirections_total", "kind=\"moved\"", load(redis.movedRedirections)),
                    sample("studiogate_second_level_redirections_total", "kind=\"ask\"", load(redis.askRedirections)),
                ])
            family(
                "studiogate_second_level_slot_map_refreshes_total", "counter",
                "Redis Cluster slot maps learnt (at start, then after MOVED).",
                [sample("studiogate_second_level_slot_map_refreshes_total", load(redis.slotMapRefreshes))])
            family(
                "studiogate_second_level_circuit_state", "gauge", "The Redis circuit: 0 closed, 1 open, 2 half-open.",
                [sample("studiogate_second_level_circuit_state", fleet.client.circuitState.rawValue)])
        }
        family(
            "studiogate_engagement_requests_total", "counter",
            "Requests to the deprecated v1 Engagement routes, by route (callers: GET /admin/engagements).",
            gauges.engagements.metricSamples())
        family(
            "studiogate_cache_entries", "gauge", "Entries held.", [sample("studiogate_cache_entries", stats.entries)])
        family(
            "studiogate_cache_bytes", "gauge", "Bytes charged against the budget.",
            [sample("studiogate_cache_bytes", stats.bytes)])
        family(
            "studiogate_cache_budget_bytes", "gauge", "The cache byte budget.",
            [sample("studiogate_cache_budget_bytes", gauges.store.budget)])
        family(
            "studiogate_inflated_bytes", "gauge",
            "Inflated bodies of hot entries kept for identity clients (bounded by 1/64 of the budget, at most 8 MiB).",
            [sample("studiogate_inflated_bytes", gauges.inflated.bytes)])
        family(
            "studiogate_cache_evictions_total", "counter", "Entries evicted for space.",
            [sample("studiogate_cache_evictions_total", stats.evictions)])
        family(
            "studiogate_open_connections", "gauge", "Open client connections.",
            [sample("studiogate_open_connections", gauges.connections?.value ?? 0)])
        family(
            "studiogate_verified_credentials", "gauge", "Credentials currently proven for an account (digests only).",
            [sample("studiogate_verified_credentials", gauges.credentials.count)])
        return lines.joined(separator: "\n") + "\n"
    }

    /// The JSON of `GET /admin/stats`.
    func renderStats(_ gauges: Gauges) -> String {
        let stats = gauges.store.stats
        let fields: [(String, Int)] = [
            ("entries", stats.entries), ("bytes", stats.bytes), ("budget_bytes", gauges.store.budget),
            ("evictions", stats.evictions), ("hits", total(.hits)), ("misses", total(.misses)),
            ("stale", total(.stale)), ("bypass", total(.bypass)), ("coalesced_waits", total(.coalescedWaits)),
            ("verified_credentials", gauges.credentials.count),
        ]
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }

    private func sample(_ name: String, _ value: Int) -> String { "\(name) \(value)" }
    private func sample(_ name: String, _ labels: String, _ value: Int) -> String { "\(name){\(labels)} \(value)" }

    private func renderRequests() -> [String] {
        requestCounts
            .map { (route: $0.key.route.name, status: $0.key.status.code, cache: $0.key.cache, count: $0.value) }
            .sorted {
                ($0.route, $0.status, $0.cache?.label ?? "-") < (
                    $1.route, $1.status, $1.cache?.label ?? "-"
                )
            }
            .map {
                let labels = "route=\"\($0.route)\",status=\"\($0.status)\",cache=\"\($0.cache?.label ?? "-")\""
                return sample("studiogate_requests_total", labels, $0.count)
            }
    }
}
