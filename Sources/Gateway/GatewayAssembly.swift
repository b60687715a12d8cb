import Auth
import Cache
import EventLoop
import Fleet
import Foundation
import HTTP
import HTTPServer
import Locking
import Redis
import Sealing
import Studio
import TLS
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
            var options = RedisClient.Options()
            options.commandTimeoutMilliseconds = config.redisCommandTimeoutMilliseconds
            options.tls = TLSConfiguration(
                caFile: config.redisCAFile, certificateFile: config.redisCertFile, keyFile: config.redisKeyFile)
            // Each new reason once (every connection of every loop retries with backoff): an
            // untrusted certificate or a wrong name shows in the log, not only as misses.
            let lastReason = Locked<String?>(nil)
            options.onConnectionFailure = { error in
                let reason = error.description
                let isNew = lastReason.withLock { last in
                    defer { last = reason }
                    return last != reason
                }
                if isNew { logger.log(.warn, "second level: \(reason); reads miss until it reconnects") }
            }
            let client = RedisClient(url: url, options: options)
            logger.log(.info, "second level: \(url)\(url.usesTLS ? " (TLS, \(trust(options.tls)))" : "")")
            // Not fatal, like a Redis that is down: every connect fails with this reason and reads miss.
            if let error = client.tlsSetupError { logger.log(.error, "second level cannot connect: \(error)") }
            if let dataKeys {
                logger.log(.info, "second level: values sealed with \(dataKeys); proofs shared")
            } else {
                logger.log(
                    .warn,
                    "second level without --data-key: entries are stored in Redis in clear (readable by anyone"
                        + " who can read Redis or its backups) and credential proofs are not shared: each pod asks"
                        + " Twilio once per credential and kind of resource before it answers that caller from the fleet"
                )
            }
            return Fleet(
                client: client, prefix: config.redisPrefix, dataKeys: dataKeys, firstLevel: firstLevel,
                credentials: credentials, clock: clock, wallClock: wallClock,
                // Bodies go to Redis naming no pod and come back naming this one.
                form: EntryForms.fleetForm(publicURL: config.effectivePublicURL))
        } catch {
            logger.log(.error, "second level off: --redis: \(error)")
            return nil
        }
    }

    /// What a rediss:// client trusts and shows, by path (never a file's contents).
    private static func trust(_ tls: TLSConfiguration) -> String {
        var text = "CAs from " + (tls.caFile ?? "the system store")
        if let certificate = tls.certificateFile { text += ", client certificate \(certificate)" }
        return text
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
