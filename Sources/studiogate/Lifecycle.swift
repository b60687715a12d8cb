import Dispatch
import EventLoop
import Foundation
import Gateway
import HTTPServer

/// Signals and timers: SIGTERM/SIGINT drain and exit, SIGHUP reloads, periodic snapshots.
///
/// `@unchecked Sendable`: the stored timer sources are set once in `start()`; the handlers of
/// timers and signals all run on the serial `queue`.
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
    }

    /// The main thread's work from start-up on: take each signal as it arrives. (Not
    /// `dispatchMain()`: on Linux it waits in sigsuspend with every signal unblocked.)
    func waitForSignals() -> Never {
        while true {
            var set = Self.handledSignals
            var number: Int32 = 0
            guard sigwait(&set, &number) == 0 else { continue }
            let received = number
            queue.async { [self] in
                if received == SIGHUP { reload() } else { drainAndExit(received == SIGTERM ? "SIGTERM" : "SIGINT") }
            }
        }
    }

    private static var handledSignals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for number in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, number) }
        return set
    }

    /// Called first thing in main, before any thread exists: every thread inherits the mask, so
    /// SIGTERM/SIGINT/SIGHUP stay pending until `waitForSignals` takes them. A signal that
    /// arrives during start-up is therefore handled once `waitForSignals` runs, never lost and
    /// never fatal.
    static func blockSignals() {
        var set = handledSignals
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// SIGHUP: re-read flags, env and --config; apply what can change without a restart.
    private func reload() {
        do {
            let outcome = try ConfigLoader.load(
                arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
            if case .run(let updated) = outcome { gateway.reload(updated) }
        } catch {
            logger.notice("SIGHUP: configuration not reloaded: \(error)")
        }
    }

    /// Stop accepting, report not ready, let in-flight requests finish (up to the drain timeout),
    /// write the snapshot, exit 0.
    private func drainAndExit(_ signalName: String) -> Never {
        logger.log(.info, "\(signalName): draining (up to \(config.drainTimeout) s)")
        gateway.beginDraining()
        server.stopAccepting()
        admin?.stopAccepting()
        let deadline = Date().addingTimeInterval(config.drainTimeout)
        while gateway.inFlightRequests > 0 && Date() < deadline { usleep(20_000) }
        if gateway.inFlightRequests > 0 {
            logger.log(.warn, "drain timeout: \(gateway.inFlightRequests) requests still in flight")
        }
        if config.stateDir != nil { gateway.writeSnapshot() }
        gateway.shutdown()
        logger.log(.info, "stopped")
        exit(0)
    }
}
