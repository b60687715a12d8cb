import Auth
import Cache
import EventLoop
import Fleet
import Foundation
import HTTP
import HTTPServer
import Redis
import Sealing
import Studio
import Upstream

/// The product's upstream: libcurl on the loops, its attempts counted by `Telemetry`.
extension Gateway {
    /// The fleet, when `--redis` names one. The URL was checked when the configuration was
    /// loaded; a Redis that is down is the client's to retry, never fatal.
    static func fleet(
        _ config: GatewayConfig, firstLevel: EntryStore, credentials: CredentialBook,
        clock: @escaping @Sendable () -> Double, wallClock: @escaping @Sendable () -> Double, logger: Logger
    ) -> Fleet? {
        guard let text = config.redis else { return nil }
        do {
            let url = try RedisURL(parsing: text, password: config.redisPassword)
            // Checked when the configuration was loaded.
            let dataKeys = try config.dataKey.map { try DataKeys(parsing: $0) }
            if let dataKeys {
                logger.log(.info, "second level: \(url); values sealed with \(dataKeys); proofs shared")
            } else {
                logger.log(
                    .warn,
                    "second level: \(url) without --data-key: entries are stored in Redis in clear (readable by anyone"
                        + " who can read Redis or its backups) and credential proofs are not shared: each pod asks"
                        + " Twilio once per credential and kind of resource before it answers that caller from the fleet"
                )
            }
            return Fleet(
                client: RedisClient(url: url, options: config.redisClientOptions), prefix: config.redisPrefix,
                dataKeys: dataKeys, firstLevel: firstLevel, credentials: credentials, clock: clock,
                wallClock: wallClock)
        } catch {
            logger.log(.error, "second level off: --redis: \(error)")
            return nil
        }
    }

    static func libcurl(_ config: GatewayConfig, telemetry: Telemetry, clock: @escaping @Sendable () -> Double)
        -> UpstreamService
    {
        var options = UpstreamClient.Options()
        options.timeout = config.upstreamTimeout
        options.caFile = config.upstreamCAFile
        options.maxConnectionsPerLoop = config.upstreamConcurrency
        return UpstreamService(
            client: UpstreamClient(baseURL: config.upstream, options: options),
            maxConcurrency: config.upstreamConcurrency, threads: config.threads,
            queueTimeout: min(5, config.upstreamTimeout), timeout: config.upstreamTimeout,
            onAttempt: { status, seconds in
                telemetry.recordUpstreamAttempt(status: status, seconds: seconds, now: clock())
            }
        )
    }
}
