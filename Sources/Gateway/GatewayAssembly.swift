import Auth
import Cache
import EventLoop
import Fleet
import Foundation
import HTTP
import HTTPServer
import Redis
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
            logger.log(.info, "second level: \(url)")
            return Fleet(
                client: RedisClient(url: url, options: config.redisClientOptions), prefix: config.redisPrefix,
                firstLevel: firstLevel,
                credentials: credentials, clock: clock, wallClock: wallClock)
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
