import EventLoop
import Foundation
import HTTPServer
import MockStudio

// mock-studio [--listen 127.0.0.1:0] [--threads 1]
// Prints "mock-studio listening on http://HOST:PORT" once it accepts connections.
var listen = "127.0.0.1:0"
var threads = 1
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--listen": listen = arguments.next() ?? listen
    case "--threads": threads = arguments.next().flatMap(Int.init) ?? threads
    case "--help", "-h":
        print(
            "usage: mock-studio [--listen HOST:PORT] [--threads N]\n"
                + "A fake Twilio Studio for tests; see MockControl.swift for /__mock/ endpoints."
        )
        exit(0)
    default:
        FileHandle.standardError.write(Data("mock-studio: unknown argument \(argument)\n".utf8))
        exit(2)
    }
}
signal(SIGPIPE, SIG_IGN)
do {
    let address = try SocketAddress(parsing: listen)
    var configuration = HTTPServerConfiguration(address: address, threads: threads)
    let connections = ConnectionGauge()
    configuration.connections = connections
    let server = try HTTPServer(configuration: configuration, handler: MockStudio(connections: connections))
    print("mock-studio listening on http://\(server.localAddress)")
    fflush(nil)
    withExtendedLifetime(server) {
        while true { sleep(3600) }
    }
} catch {
    FileHandle.standardError.write(Data("mock-studio: \(error)\n".utf8))
    exit(1)
}
