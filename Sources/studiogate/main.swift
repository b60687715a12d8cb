import EventLoop
import Foundation
import Gateway
import HTTPServer
import MockStudio

signal(SIGPIPE, SIG_IGN)

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("studiogate: error: \(message)\n".utf8))
    exit(code)
}

var config: GatewayConfig
do {
    switch try ConfigLoader.load(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment) {
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

let server: HTTPServer
do {
    var serverConfig = HTTPServerConfiguration(address: try SocketAddress(parsing: config.listen), threads: config.threads)
    serverConfig.limits.maxBodyBytes = config.maxBodyBytes
    serverConfig.headerTimeout = config.headerTimeout
    serverConfig.idleTimeout = config.idleTimeout
    serverConfig.log = { message in FileHandle.standardError.write(Data("studiogate: \(message)\n".utf8)) }
    server = try HTTPServer(configuration: serverConfig) { bound in
        // With port 0 the kernel picks the port: the public URL must name the real one.
        var resolved = config
        resolved.listen = bound.description
        return Gateway(config: resolved)
    }
} catch {
    fail("cannot listen on \(config.listen): \(error)", code: 1)
}

print("studiogate \(StudioGateVersion.current) listening on http://\(server.localAddress) -> \(config.upstream)")
if config.demo { print(Demo.instructions(gateway: "http://\(server.localAddress)")) }
fflush(nil)

withExtendedLifetime((server, demoServer)) {
    while true { sleep(3600) }
}
