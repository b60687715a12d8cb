import Dispatch
import EventLoop
import Foundation
import Gateway
import HTTPServer

/// Signals and timers: SIGTERM/SIGINT drain and exit, SIGHUP reloads, periodic snapshots.
///
/// `@unchecked Sendable`: the stored timer and signal sources are set once in `start()` and
/// afterwards only touched from their handlers, which all run on the serial `queue`.
final class Lifecycle: @unchecked Sendable {
    let config: GatewayConfig
    let gateway: Gateway
    let server: HTTPServer
    let admin: HTTPServer?
    let logger: Logger
    private let queue = DispatchQueue(label: "studiogate.lifecycle")
    private var sources: [any DispatchSourceProtocol] = []

    init(config: GatewayConfig, gateway: Gateway, server: HTTPServer, admin: HTTPServer?, logger: Logger) {
        self.config = config
        self.gateway = gateway
        self.server = server
        self.admin = admin
        self.logger = logger
    }

    func start() {
        // Misses allocate large short-lived buffers between long-lived entries; glibc keeps the
        // freed pages. Returning them every few seconds keeps RSS close to what the cache holds.
        let trim = DispatchSource.makeTimerSource(queue: queue)
        trim.schedule(deadline: .now() + 5, repeating: 5)
        trim.setEventHandler { HeapTrim.now() }
        trim.resume()
        sources.append(trim)

        if config.stateDir != nil {
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now() + config.snapshotInterval, repeating: config.snapshotInterval)
            timer.setEventHandler { [gateway] in gateway.writeSnapshot() }
            timer.resume()
            sources.append(timer)
        }
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [self] in
                if number == SIGHUP { reload() } else { drainAndExit(name) }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// SIGHUP: re-read flags, env and --config; apply what can change without a restart.
    private func reload() {
        do {
            let outcome = try ConfigLoader.load(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
            if case .run(let updated) = outcome { gateway.reload(updated) }
        } catch {
            logger.log(.error, "SIGHUP: configuration not reloaded: \(error)")
        }
    }

    /// Stop accepting, report not ready, let in-flight requests finish (up to the drain timeout),
    /// write the snapshot, exit 0.
    private func drainAndExit(_ signalName: String) -> Never {
        logger.log(.info, "\(signalName): draining (up to \(config.drainTimeout) s)")
        gateway.draining.store(true, ordering: .relaxed)
        server.stopAccepting()
        admin?.stopAccepting()
        let deadline = Date().addingTimeInterval(config.drainTimeout)
        while gateway.inFlightRequests > 0 && Date() < deadline { usleep(20_000) }
        if gateway.inFlightRequests > 0 { logger.log(.warn, "drain timeout: \(gateway.inFlightRequests) requests still in flight") }
        if config.stateDir != nil { gateway.writeSnapshot() }
        logger.log(.info, "stopped")
        exit(0)
    }
}
