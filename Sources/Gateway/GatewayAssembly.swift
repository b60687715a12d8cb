import Auth
import Cache
import EventLoop
import Foundation
import HTTP
import HTTPServer
import Studio
import Upstream

/// The product's upstream: libcurl on the loops, its attempts counted by `Telemetry`.
extension Gateway {
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
