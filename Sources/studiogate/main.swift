import CStartup
import Dispatch
import EventLoop
import Foundation
import Gateway
import HTTPServer
import MockStudio

// Already blocked by CStartup's .preinit_array entry before any library initialiser ran; blocking
// again here covers a renamed binary, for which that entry stands aside.
_ = cstartup_signals_blocked_early()
Lifecycle.blockSignals()
signal(SIGPIPE, SIG_IGN)

// `studiogate probe URL`: the exec health check, before any gateway configuration is read.
if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "probe" {
    var unblock = sigset_t()
    sigemptyset(&unblock)
    for number in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&unblock, number) }
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    exit(Probe.run(Array(CommandLine.arguments.dropFirst(2))))
}

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("studiogate: error: \(message)\n".utf8))
    exit(code)
}

/// What to do about a listening address that cannot be had.
func addressHint(_ error: any Error, flag: String, variable: String) -> String {
    switch (error as? Errno)?.rawValue {
    case EADDRINUSE?:
        return
            "; another process is listening there: stop it or choose another address with \(flag) HOST:PORT"
            + " (\(variable))"
    case EADDRNOTAVAIL?: return "; no interface has that address: choose another with \(flag) HOST:PORT (\(variable))"
    case EACCES?: return "; ports below 1024 need privileges: choose another with \(flag) HOST:PORT (\(variable))"
    default: return ""
    }
}

func loadConfig() throws(ConfigError) -> ConfigLoader.Outcome {
    try ConfigLoader.load(
        arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
}

var config: GatewayConfig
do {
    switch try loadConfig() {
    case .run(let loaded): config = loaded
    case .help(let text):
        print(text)
        exit(0)
    case .version(let text):
        print(text)
        exit(0)
    }
} catch {
    fail(error.description, code: 2)
}

if let stateDir = config.stateDir {
    do {
        try Gateway.checkStateDirectory(stateDir)
    } catch {
        fail("--state-dir: \(error)", code: 2)
    }
}

var demoServer: HTTPServer? = nil
if config.demo {
    do {
        demoServer = try Demo.startMockStudio()
        config.upstream = "http://\(demoServer!.localAddress)"
    } catch {
        fail("cannot start the demo mock Studio: \(error)", code: 1)
    }
}

let logger = Logger(level: Logger.Level(config.logLevel) ?? .info)
for warning in ConfigLoader.warnings(for: config) { logger.log(.warn, warning) }
if let stateDir = config.stateDir {
    do { try StateDirectory.checkWritable(stateDir) } catch {
        fail(error.description + " (--state-dir, STUDIOGATE_STATE_DIR or state_dir; empty = off)", code: 1)
    }
}
let connections = ConnectionGauge()
var gatewayBox: Gateway? = nil
let server: HTTPServer
do {
    var serverConfig = HTTPServerConfiguration(
        address: try SocketAddress(parsing: config.listen), threads: config.threads)
    serverConfig.limits.maxBodyBytes = config.maxBodyBytes
    serverConfig.headerTimeout = config.headerTimeout
    serverConfig.idleTimeout = config.idleTimeout
    serverConfig.connections = connections
    serverConfig.log = { message in logger.log(.warn, message) }
    server = try HTTPServer(configuration: serverConfig) { bound in
        // With port 0 the kernel picks the port: the public URL must name the real one.
        var resolved = config
        resolved.listen = bound.description
        let gateway = Gateway(config: resolved, logger: logger, connections: connections)
        gatewayBox = gateway
        return gateway
    }
} catch {
    fail(
        "cannot listen on \(config.listen): \(error)"
            + addressHint(error, flag: "--listen", variable: "STUDIOGATE_LISTEN"), code: 1)
}
let gateway = gatewayBox!
gateway.restoreSnapshot()
gateway.serve(on: server.loops)

var admin: HTTPServer? = nil
if let adminListen = config.adminListen {
    do {
        var adminConfig = HTTPServerConfiguration(address: try SocketAddress(parsing: adminListen), threads: 1)
        adminConfig.log = { message in logger.log(.warn, "admin: " + message) }
        admin = try HTTPServer(
            configuration: adminConfig, handler: AdminHandler(gateway: gateway, token: config.adminToken))
    } catch {
        fail(
            "cannot listen on admin address \(adminListen): \(error)"
                + addressHint(error, flag: "--admin-listen", variable: "STUDIOGATE_ADMIN_LISTEN"), code: 1)
    }
}

// Signals stay pending (blockSignals) until waitForSignals below, after the "listening" line.
let lifecycle = Lifecycle(config: config, gateway: gateway, server: server, admin: admin, logger: logger)
lifecycle.start()

print(
    "studiogate \(StudioGateVersion.current) listening on http://\(server.localAddress) -> \(config.upstream)"
        + (admin.map { ", admin on http://\($0.localAddress)" } ?? ""))
if config.demo { print(Demo.instructions(gateway: config.publicURL ?? "http://\(server.localAddress)")) }
fflush(nil)

withExtendedLifetime((server, demoServer, admin)) {
    lifecycle.waitForSignals()
}
