import Foundation
import Glibc
import XCTest

/// A real `redis-server` (Debian's) on 127.0.0.1 at a port picked for the test, with no
/// persistence: nothing is written but its socket. Killed when the test ends. With `tls`, `port`
/// speaks TLS only (`--tls-port`, no plaintext port).
final class RedisServerProcess {
    /// The server's certificate and key, the CA its clients' certificates must chain to, and
    /// whether it demands one (`--tls-auth-clients`).
    struct TLSFiles {
        var certificate: String
        var key: String
        var caFile: String
        var authClients = false
    }

    static let path = "/usr/bin/redis-server"
    let port: UInt16
    let directory: URL
    private let extraArguments: [String]
    private let tls: TLSFiles?
    private var process: Process?

    static func skipUnlessInstalled() throws {
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: path),
            "redis-server is not installed (.ci/run installs it)")
    }

    /// `unixSocketOnly`: no TCP port, a socket at `socketPath` instead. `port`: this one rather than
    /// any free one (a cluster node also needs port + 10000 for its bus).
    init(arguments: [String] = [], unixSocketOnly: Bool = false, port: UInt16? = nil, tls: TLSFiles? = nil) throws {
        self.port = unixSocketOnly ? 0 : port ?? LoopbackPort.free()
        self.tls = tls
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("studiogate-redis-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let socket = directory.appendingPathComponent("redis.sock").path
        extraArguments = arguments + (unixSocketOnly ? ["--unixsocket", socket] : [])
        try start()
    }

    /// A unix socket path in the test's directory.
    var socketPath: String { directory.appendingPathComponent("redis.sock").path }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.path)
        var listening = ["--port", String(port)]
        if let tls {
            listening = [
                "--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.certificate,
                "--tls-key-file", tls.key, "--tls-ca-cert-file", tls.caFile,
                "--tls-auth-clients", tls.authClients ? "yes" : "no",
            ]
        }
        process.arguments =
            listening + [
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", directory.path, "--daemonize", "no", "--loglevel", "warning",
            ] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.standardError
        try process.run()
        self.process = process
        try waitUntilListening()
    }

    /// SIGKILL: gone at once, connections reset, nothing flushed.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    private func waitUntilListening() throws {
        for _ in 0..<250 {
            if port == 0 ? Self.accepts(unixPath: socketPath) : Self.accepts(port: port) { return }
            usleep(20_000)
        }
        throw NSError(
            domain: "redis-server", code: 1,
            userInfo: [NSLocalizedDescriptionKey: "redis-server did not listen"])
    }

    private static func accepts(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        } == 0
    }

    private static func accepts(unixPath: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(unixPath.utf8.prefix(107))) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        } == 0
    }
}
