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

func loadConfig() throws(ConfigError) -> ConfigLoader.Outcome {
    try ConfigLoader.load(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
}

var config: GatewayConfig
do {
    switch try loadConfig() {
    case .run(let loaded): config = loaded
    case .help(let text): print(text); exit(0)
    case .version(let text): print(text); exit(0)
    }
} catch {
    fail(error.description, code: 2)
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
let connections = ConnectionGauge()
var gatewayBox: Gateway? = nil
let server: HTTPServer
do {
    var serverConfig = HTTPServerConfiguration(address: try SocketAddress(parsing: config.listen), threads: config.threads)
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
    fail("cannot listen on \(config.listen): \(error)", code: 1)
}
let gateway = gatewayBox!
gateway.restoreSnapshot()

var admin: HTTPServer? = nil
if let adminListen = config.adminListen {
    do {
        var adminConfig = HTTPServerConfiguration(address: try SocketAddress(parsing: adminListen), threads: 1)
        adminConfig.log = { message in logger.log(.warn, "admin: " + message) }
        admin = try HTTPServer(configuration: adminConfig, handler: AdminHandler(gateway: gateway, token: config.adminToken))
    } catch {
        fail("cannot listen on --admin-listen \(adminListen): \(error)", code: 1)
    }
}

// Signals stay pending (blockSignals) until waitForSignals below, after the "listening" line.
let lifecycle = Lifecycle(config: config, gateway: gateway, server: server, admin: admin, logger: logger)
lifecycle.start()

print("studiogate \(StudioGateVersion.current) listening on http://\(server.localAddress) -> \(config.upstream)"
      + (admin.map { ", admin on http://\($0.localAddress)" } ?? ""))
if config.demo { print(Demo.instructions(gateway: "http://\(server.localAddress)")) }
fflush(nil)

withExtendedLifetime((server, demoServer, admin)) {
    lifecycle.waitForSignals()
}
