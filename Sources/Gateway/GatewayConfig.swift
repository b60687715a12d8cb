import Foundation
import Redis

/// Everything an operator can set. Defaults: docs/ARCHITECTURE.md, «Cache policy» and «Front-end limits».
public struct GatewayConfig: Sendable, Equatable {
    public var listen = "127.0.0.1:8080"
    public var upstream = "https://studio.twilio.com"
    /// The origin clients see in rewritten URLs; `http://<listen>` when unset.
    public var publicURL: String? = nil
    /// Seconds active-execution data and list pages are served from cache (0 = off).
    public var activeTTL: Double = 2
    /// Seconds an expired entry may still be served (X-Cache: STALE) when the upstream fails.
    public var staleIfError: Double = 60
    /// Seconds after an execution's `date_created` past which none of its data is answered, kept,
    /// snapshotted or shared (Studio's own retention: 30 days); 0 = no limit.
    public var retention: Double = 30 * 86_400
    /// Byte budget over everything the cache stores.
    public var cacheSize = 256 * 1024 * 1024
    /// Seconds a credential stays verified for its account after an upstream 2xx.
    public var authTTL: Double = 300
    /// Most upstream calls in flight at once; more wait (503 after a queue deadline).
    public var upstreamConcurrency = 32
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var upstreamTimeout: Double = 15
    /// PEM file of the CAs that sign the upstream's certificate, instead of the system store.
    public var upstreamCAFile: String? = nil
    public var maxBodyBytes = 1024 * 1024
    public var headerTimeout: Double = 10
    public var idleTimeout: Double = 60
    public var logLevel = "info"
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    public var drainTimeout: Double = 10
    /// Where ended entries are snapshotted so they survive restarts; nil = no persistence.
    public var stateDir: String? = nil
    /// Seconds between snapshots (also written at shutdown).
    public var snapshotInterval: Double = 60
    /// Admin listener (purge, inspect, stats); nil = off.
    public var adminListen: String? = nil
    /// Bearer token the admin listener requires; mandatory off loopback.
    public var adminToken: String? = nil
    /// The fleet's shared second cache level, `redis[s]://[user:password@]host:port/db` or
    /// `unix:///path/to/socket`; nil = each gateway caches alone.
    public var redis: String? = nil
    /// Overrides the URL's password (prefer env STUDIOGATE_REDIS_PASSWORD).
    public var redisPassword: String? = nil
    /// rediss://: PEM file of the CAs that sign Redis's certificate; nil = the system store.
    public var redisCAFile: String? = nil
    /// rediss:// mutual TLS: the client certificate and its key (both or neither).
    public var redisCertFile: String? = nil
    public var redisKeyFile: String? = nil
    /// Namespace of every key and channel the gateway uses in Redis.
    public var redisPrefix = "studiogate:"
    /// `--data-key`: one or more 64-hex-digit keys, comma-separated; the first seals what leaves
    /// memory, every one opens. A secret: never logged.
    public var dataKey: String? = nil
    /// `--redis-timeout`: the budget of a Redis command a request waits for, in ms.
    public var redisCommandTimeoutMilliseconds = RedisClient.Options().commandTimeoutMilliseconds
    /// Start the embedded mock Studio and point the upstream at it.
    public var demo = false

    public init() {}

    public var effectivePublicURL: String { publicURL ?? "http://\(listen)" }
}

public enum StudioGateVersion {
    public static let current = "0.1.0"
}
