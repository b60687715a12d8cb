import EventLoop
import Foundation
import Redis
import Sealing

/// Every setting: its flag, environment variable and file key (all from one name), its help line,
/// and the check that turns text into a `GatewayConfig` field.
extension ConfigLoader {
    /// The placeholders the shipped examples once carried, refused as admin tokens whatever their length.
    static let placeholderTokenPrefixes = ["change-me", "changeme", "replace-with", "replace-me", "your-token"]
    static let minimumAdminTokenBytes = 32

    static let settings: [Setting] = [
        Setting(
            name: "demo", placeholder: "[=BOOL]",
            help: "start an embedded mock Studio as the upstream and print commands to try (default off)",
            kind: .boolean
        ) { config, value throws(ConfigError) in
            config.demo = try boolean(value)
        },
        Setting(name: "listen", placeholder: "HOST:PORT", help: "address to serve HTTP/1.1 on (default 127.0.0.1:8080)")
        { config, value throws(ConfigError) in
            do { _ = try SocketAddress(parsing: value) } catch { throw ConfigError("\(error)") }
            config.listen = value
        },
        Setting(
            name: "upstream", placeholder: "URL",
            help: "Studio origin to forward to (default https://studio.twilio.com)"
        ) { config, value throws(ConfigError) in
            config.upstream = try origin(value)
        },
        Setting(
            name: "public-url", placeholder: "URL",
            help: "origin clients use to reach the gateway, for rewritten URLs (default http://LISTEN; empty = default)"
        ) { config, value throws(ConfigError) in
            config.publicURL = value.isEmpty ? nil : try origin(value)
        },
        Setting(
            name: "active-ttl", placeholder: "DURATION",
            help: "how long active-execution data and list pages are cached; 0 = off (default 2)"
        ) { config, value throws(ConfigError) in
            config.activeTTL = try seconds(value, allowZero: true)
        },
        Setting(
            name: "stale-if-error", placeholder: "DURATION",
            help: "serve expired entries this long past expiry when the upstream fails (default 60)"
        ) { config, value throws(ConfigError) in
            config.staleIfError = try seconds(value, allowZero: true)
        },
        Setting(
            name: "retention", placeholder: "DURATION",
            help: "nothing is answered or kept past an execution's date_created + this, Twilio's own retention;"
                + " 0 = no limit (default 30d)"
        ) { config, value throws(ConfigError) in
            config.retention = try seconds(value, allowZero: true)
        },
        Setting(
            name: "cache-size", placeholder: "BYTES", help: "cache byte budget; K/M/G suffixes allowed (default 256M)"
        ) { config, value throws(ConfigError) in
            config.cacheSize = try bytes(value)
        },
        Setting(
            name: "auth-ttl", placeholder: "DURATION",
            help: "how long the upstream's 2xx verifies a credential for cache hits (default 300)"
        ) { config, value throws(ConfigError) in
            config.authTTL = try seconds(value, allowZero: true)
        },
        Setting(
            name: "upstream-concurrency", placeholder: "N",
            help: "most upstream calls in flight; others queue (default 32)"
        ) { config, value throws(ConfigError) in
            guard let n = Int(value), (1...10_000).contains(n) else {
                throw ConfigError("expected 1...10000, got '\(value)'")
            }
            config.upstreamConcurrency = n
        },
        Setting(name: "threads", placeholder: "N", help: "event loop threads (default: one per core)") {
            config, value throws(ConfigError) in
            guard let n = Int(value), (1...256).contains(n) else {
                throw ConfigError("expected 1...256, got '\(value)'")
            }
            config.threads = n
        },
        Setting(
            name: "upstream-timeout", placeholder: "DURATION",
            help: "connect + total time allowed for an upstream call (default 15)"
        ) { config, value throws(ConfigError) in
            config.upstreamTimeout = try seconds(value, allowZero: false)
        },
        Setting(
            name: "upstream-ca-file", placeholder: "PEM",
            help: "trust these CAs for the upstream's certificate instead of the system's"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty else {
                config.upstreamCAFile = nil
                return
            }  // empty: the system's CAs
            guard FileManager.default.isReadableFile(atPath: value) else {
                throw ConfigError("--upstream-ca-file: cannot read '\(value)'")
            }
            config.upstreamCAFile = value
        },
        Setting(
            name: "redis", placeholder: "URL",
            help: "share the cache with a fleet through Redis: redis[s]://[USER:PASSWORD@]HOST:PORT/DB or unix:///PATH"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty else {
                config.redis = nil
                return
            }
            do { _ = try RedisURL(parsing: value) } catch { throw ConfigError("--redis: \(error)") }
            config.redis = value
        },
        Setting(
            name: "redis-password", placeholder: "SECRET",
            help: "Redis password, overriding the URL's; prefer env STUDIOGATE_REDIS_PASSWORD"
        ) { config, value throws(ConfigError) in
            config.redisPassword = value.isEmpty ? nil : value
        },
        Setting(
            name: "redis-ca-file", placeholder: "PEM",
            help: "rediss://: trust these CAs for Redis's certificate instead of the system's"
        ) { config, value throws(ConfigError) in
            config.redisCAFile = try readableFile(value)  // empty: the system's CAs
        },
        Setting(
            name: "redis-cert-file", placeholder: "PEM",
            help: "rediss://: client certificate for mutual TLS (with --redis-key-file)"
        ) { config, value throws(ConfigError) in
            config.redisCertFile = try readableFile(value)
        },
        Setting(
            name: "redis-key-file", placeholder: "PEM",
            help: "rediss://: the client certificate's private key, unencrypted (with --redis-cert-file)"
        ) { config, value throws(ConfigError) in
            config.redisKeyFile = try readableFile(value)
        },
        Setting(
            name: "redis-prefix", placeholder: "TEXT",
            help: "namespace of the gateway's Redis keys (default studiogate:)"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "{" || $0 == "}" }) else {
                throw ConfigError("--redis-prefix: expected text without spaces or braces, got '\(value)'")
            }
            config.redisPrefix = value
        },
        Setting(
            name: "redis-timeout", placeholder: "DURATION",
            help: "budget of a Redis command a request waits for (lookup, proof, lease); past it the fleet reads"
                + " as a miss (default 5ms; more for a Redis across zones)"
        ) { config, value throws(ConfigError) in
            let budget = try seconds(value, allowZero: false)
            guard budget >= 0.001, budget <= 10 else {
                throw ConfigError("--redis-timeout: expected 1ms to 10s, got '\(value)'")
            }
            config.redisCommandTimeoutMilliseconds = Int((budget * 1000).rounded())
        },
        Setting(
            name: "data-key", placeholder: "HEX[,HEX…]",
            help: "seal what the fleet writes to Redis (AES-256-GCM) and share proofs: 64 hex digits (openssl rand"
                + " -hex 32); comma-separated keys rotate (the first seals, all open); prefer env STUDIOGATE_DATA_KEY"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty else {
                config.dataKey = nil
                return
            }
            do { _ = try DataKeys(parsing: value) } catch { throw ConfigError("--data-key: \(error)") }
            config.dataKey = value
        },
        Setting(
            name: "max-body-bytes", placeholder: "BYTES",
            help: "largest request body accepted; larger gets 413 (default 1M)"
        ) { config, value throws(ConfigError) in
            config.maxBodyBytes = try bytes(value)
        },
        Setting(
            name: "header-timeout", placeholder: "DURATION", help: "time allowed to send a request head (default 10)"
        ) { config, value throws(ConfigError) in
            config.headerTimeout = try seconds(value, allowZero: false)
        },
        Setting(
            name: "idle-timeout", placeholder: "DURATION",
            help: "idle keep-alive connections are closed after this (default 60)"
        ) { config, value throws(ConfigError) in
            config.idleTimeout = try seconds(value, allowZero: false)
        },
        Setting(
            name: "drain-timeout", placeholder: "DURATION",
            help: "time in-flight requests get to finish on SIGTERM (default 10)"
        ) { config, value throws(ConfigError) in
            config.drainTimeout = try seconds(value, allowZero: true)
        },
        Setting(
            name: "state-dir", placeholder: "DIR",
            help: "keep ended entries across restarts in DIR; must be writable (default off; empty = off)"
        ) { config, value throws(ConfigError) in
            config.stateDir = value.isEmpty ? nil : value
        },
        Setting(
            name: "snapshot-interval", placeholder: "DURATION",
            help: "how often the state dir snapshot is written (default 60)"
        ) { config, value throws(ConfigError) in
            config.snapshotInterval = try seconds(value, allowZero: false)
        },
        Setting(
            name: "admin-listen", placeholder: "HOST:PORT",
            help: "admin listener for purge/inspect/stats (default off; empty = off)"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty else {
                config.adminListen = nil
                return
            }
            do { _ = try SocketAddress(parsing: value) } catch { throw ConfigError("\(error)") }
            config.adminListen = value
        },
        Setting(
            name: "admin-token", placeholder: "TOKEN",
            help: "bearer token for the admin listener, at least 32 bytes; prefer env STUDIOGATE_ADMIN_TOKEN"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty else {
                config.adminToken = nil
                return
            }
            let lowered = value.lowercased()
            if placeholderTokenPrefixes.contains(where: { lowered.hasPrefix($0) }) {
                throw ConfigError(
                    "this is the example's placeholder, not a token; generate one, e.g. openssl rand -hex 32")
            }
            guard value.utf8.count >= minimumAdminTokenBytes else {
                throw ConfigError(
                    "use at least \(minimumAdminTokenBytes) bytes (got \(value.utf8.count)), e.g. openssl rand -hex 32")
            }
            config.adminToken = value
        },
        Setting(name: "log-level", placeholder: "LEVEL", help: "debug, info, warn or error (default info)") {
            config, value throws(ConfigError) in
            guard ["debug", "info", "warn", "error"].contains(value) else {
                throw ConfigError("expected debug, info, warn or error, got '\(value)'")
            }
            config.logLevel = value
        },
    ]
}
