import Cache
import Redis

/// Everything the status page shows, read once from the gateway's counters and settings: the
/// page is rendered from this alone (`StatusPage`), so it is tested and timed without a gateway.
struct StatusFigures: Sendable {
    struct Level: Sendable {
        var name: String
        var hits: Int
        var lookups: Int
    }

    struct Route: Sendable {
        var name: String
        var requests = 0
        var hits = 0
        var fleetHits = 0
        var misses = 0
        var stale = 0
        var bypass = 0
        var lookups: Int { hits + fleetHits + misses + stale }
    }

    struct Latency: Sendable {
        var count: Int
        /// Seconds, estimated within the histogram's buckets; nil before any observation.
        var p50: Double?
        var p90: Double?
        var p99: Double?
    }

    struct FleetState: Sendable {
        var circuit: String
        var hits: Int
        var misses: Int
        var refused: Int
        var errors: Int
    }

    var version = StudioGateVersion.current
    var uptimeSeconds = 0.0
    /// Epoch seconds.
    var renderedAt = 0.0
    var entries = 0
    var bytes = 0
    var budget = 0
    var evictions = 0
    var inflatedBytes = 0
    var openConnections = 0
    var verifiedCredentials = 0
    var requestsInFlight = 0
    var coalescedWaits = 0
    /// L1 (this pod) then L2 (the fleet, only with `--redis`).
    var levels: [Level] = []
    var routes: [Route] = []
    var requestLatency = Latency(count: 0)
    var upstreamAttempts = 0
    var upstream429s = 0
    /// Attempts with no HTTP answer (timeouts, refused connections) and 5xx answers.
    var upstreamErrors = 0
    var upstreamTimeoutsOrUnreachable = 0
    var upstreamRetries = 0
    var upstreamInFlight = 0
    var upstreamLatency = Latency(count: 0)
    var fleet: FleetState? = nil
    var engagements = EngagementCallers.Report(callers: [], dropped: 0, capacity: 0, requestsByRoute: [])
    var intervals: [RateHistory.Interval] = []
    /// Effective settings, secrets as "set"/"unset".
    var settings: [(name: String, value: String)] = []
}

extension StatusFigures {
    init(_ admin: CacheAdministration) {
        let telemetry = admin.telemetry
        let gauges = admin.gauges
        let stats = admin.store.stats
        let now = admin.clock()
        renderedAt = admin.wallClock()
        uptimeSeconds = now - admin.history.startedAt
        entries = stats.entries
        bytes = stats.bytes
        budget = admin.store.budget
        evictions = stats.evictions
        inflatedBytes = gauges.inflated.bytes
        openConnections = gauges.connections?.value ?? 0
        verifiedCredentials = gauges.credentials.count
        requestsInFlight = telemetry.total(.inFlight)
        coalescedWaits = telemetry.total(.coalescedWaits)

        let counts = telemetry.requestCounts
        var byRoute: [String: Route] = [:]
        for (label, count) in counts {
            let name = label.route.name
            var route = byRoute[name] ?? Route(name: name)
            route.requests += count
            switch label.cache {
            case .hit?: route.hits += count
            case .fleetHit?: route.fleetHits += count
            case .miss?: route.misses += count
            case .stale?: route.stale += count
            case .bypass?: route.bypass += count
            case nil: break
            }
            byRoute[name] = route
        }
        routes = byRoute.values.sorted { ($0.requests, $1.name) > ($1.requests, $0.name) }
        let lookups = routes.reduce(0) { $0 + $1.lookups }
        let hits = routes.reduce(0) { $0 + $1.hits }
        let fleetHits = routes.reduce(0) { $0 + $1.fleetHits }
        levels = [Level(name: "L1", hits: hits, lookups: lookups)]
        if admin.fleet != nil { levels.append(Level(name: "L2", hits: fleetHits, lookups: lookups - hits)) }

        requestLatency = Self.latency(telemetry.requestLatency, buckets: Histogram.latencyBuckets)
        upstreamLatency = Self.latency(telemetry.upstreamLatency.counts, buckets: telemetry.upstreamLatency.buckets)
        let statuses = telemetry.upstreamStatusCounts
        upstreamAttempts = statuses.values.reduce(0, +)
        upstream429s = statuses[429] ?? 0
        upstreamTimeoutsOrUnreachable = statuses[0] ?? 0
        upstreamErrors = statuses.filter { $0.key == 0 || $0.key >= 500 }.values.reduce(0, +)
        upstreamRetries = gauges.upstream.stats.retries.load(ordering: .relaxed)
        upstreamInFlight = gauges.upstream.inFlight

        if let fleet = admin.fleet {
            let circuit: String
            switch fleet.client.circuitState {
            case .closed: circuit = "closed"
            case .open: circuit = "open"
            case .halfOpen: circuit = "half-open"
            }
            self.fleet = FleetState(
                circuit: circuit, hits: fleet.hits.load(ordering: .relaxed),
                misses: fleet.misses.load(ordering: .relaxed), refused: fleet.refused.load(ordering: .relaxed),
                errors: fleet.client.stats.errors.load(ordering: .relaxed))
        }
        engagements = admin.engagements.report
        intervals = admin.history.intervals(now: RateHistory.sample(counts, at: now))
        settings = Self.effectiveSettings(admin.config, policy: admin.store.policy, logLevel: admin.logger.level)
    }

    /// What the gateway runs with now (TTLs and the log level as last reloaded). Secrets only as
    /// set or unset; a Redis URL with its password masked.
    static func effectiveSettings(_ config: GatewayConfig, policy: CachePolicy, logLevel: Logger.Level)
        -> [(name: String, value: String)]
    {
        func secret(_ value: String?) -> String { value == nil ? "unset" : "set" }
        func optional(_ value: String?) -> String { value ?? "—" }
        let redis = config.redis.map { text in
            (try? RedisURL(parsing: text, password: config.redisPassword)).map(\.description) ?? "set (unparsable)"
        }
        return [
            ("listen", config.listen), ("upstream", config.upstream), ("public-url", config.effectivePublicURL),
            ("active-ttl", "\(policy.activeTTL) s"), ("stale-if-error", "\(policy.staleIfError) s"),
            ("cache-size", "\(config.cacheSize) bytes"), ("auth-ttl", "\(config.authTTL) s"),
            ("upstream-concurrency", "\(config.upstreamConcurrency)"), ("threads", "\(config.threads)"),
            ("upstream-timeout", "\(config.upstreamTimeout) s"), ("upstream-ca-file", optional(config.upstreamCAFile)),
            ("max-body-bytes", "\(config.maxBodyBytes)"), ("header-timeout", "\(config.headerTimeout) s"),
            ("idle-timeout", "\(config.idleTimeout) s"), ("log-level", logLevel.name),
            ("drain-timeout", "\(config.drainTimeout) s"), ("state-dir", optional(config.stateDir)),
            ("snapshot-interval", "\(config.snapshotInterval) s"), ("admin-listen", optional(config.adminListen)),
            ("admin-token", secret(config.adminToken)), ("redis", optional(redis)),
            ("redis-password", secret(config.redisPassword)), ("redis-ca-file", optional(config.redisCAFile)),
            ("redis-cert-file", optional(config.redisCertFile)), ("redis-key-file", optional(config.redisKeyFile)),
            ("redis-prefix", config.redisPrefix), ("data-key", secret(config.dataKey)), ("demo", "\(config.demo)"),
        ]
    }

    /// p50/p90/p99 by linear interpolation inside the bucket the rank falls in (as Prometheus's
    /// `histogram_quantile`); a rank above every bound reports the highest bound.
    static func latency(_ counts: HistogramCounts, buckets: [Double]) -> Latency {
        func quantile(_ q: Double) -> Double? {
            guard counts.count > 0 else { return nil }
            let rank = q * Double(counts.count)
            var below = 0
            for (index, count) in counts.counts.enumerated() {
                if Double(below + count) >= rank, count > 0 {
                    let lower = index == 0 ? 0 : buckets[index - 1]
                    return lower + (buckets[index] - lower) * (rank - Double(below)) / Double(count)
                }
                below += count
            }
            return buckets.last
        }
        return Latency(count: counts.count, p50: quantile(0.5), p90: quantile(0.9), p99: quantile(0.99))
    }
}
