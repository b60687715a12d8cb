import Foundation
import Glibc
import Locking
import MockStudio
import XCTest

@testable import TestSupport

/// The upstream over real TLS, as Twilio serves it: nginx from Debian terminates TLS with a
/// certificate from a throwaway CA in front of the mock, on one port with HTTP/2 (ALPN) and on
/// another with HTTP/1.1 only. The gateway trusts the CA through `--upstream-ca-file`.
final class HTTPSUpstreamTests: XCTestCase {
    var directory: URL!
    var mock: RunningBinary!
    var nginx: Process?
    var http2Port: UInt16 = 0
    var http1Port: UInt16 = 0
    var gateway: RunningBinary?

    static let nginxPath = "/usr/sbin/nginx"

    override func setUpWithError() throws {
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"),
            "openssl is not installed (.ci/run installs it)")
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: Self.nginxPath), "nginx is not installed (.ci/run installs it)"
        )
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "studiogate-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try run(
            """
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=StudioGate Test CA' && \
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=127.0.0.1' && \
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf && \
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf
            """)
        mock = try RunningBinary("mock-studio", ["--listen", "127.0.0.1:0"])
        http2Port = LoopbackPort.free()
        http1Port = LoopbackPort.free()
        try startNginx()
    }

    override func tearDown() {
        gateway?.stop()
        if let nginx, nginx.isRunning {
            nginx.terminate()
            nginx.waitUntilExit()
        }
        mock?.stop()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func run(_ command: String) throws { try runShell(command, in: directory, what: command) }

    func startNginx() throws {
        let dir = directory.path
        let tls = "ssl_certificate \(dir)/server.crt; ssl_certificate_key \(dir)/server.key;"
        let proxy = #"location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection ""; }"#
        let config = """
            daemon off; master_process off; worker_processes 1; pid \(dir)/nginx.pid; error_log \(dir)/error.log warn;
            events { worker_connections 512; }
            http {
              access_log off;
              client_body_temp_path \(dir)/body; proxy_temp_path \(dir)/proxy; fastcgi_temp_path \(dir)/fastcgi;
              uwsgi_temp_path \(dir)/uwsgi; scgi_temp_path \(dir)/scgi;
              upstream mock { server 127.0.0.1:\(mock.port); keepalive 16; }
              server { listen 127.0.0.1:\(http2Port) ssl http2; \(tls) \(proxy) }
              server { listen 127.0.0.1:\(http1Port) ssl; \(tls) \(proxy) }
            }
            """
        try config.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.nginxPath)
        process.arguments = ["-p", dir, "-e", "\(dir)/error.log", "-c", "\(dir)/nginx.conf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.standardError
        try process.run()
        nginx = process
        for port in [http2Port, http1Port] {
            var up = false
            for _ in 0..<100 where !up {
                up = (try? RawClient(port: port, timeout: 1)) != nil
                if !up { usleep(20_000) }
            }
            XCTAssertTrue(up, "nginx did not listen on \(port)")
        }
    }

    func startGateway(port: UInt16, trusting: Bool) throws -> RunningBinary {
        var arguments = [
            "--listen", "127.0.0.1:0", "--upstream", "https://127.0.0.1:\(port)", "--upstream-timeout", "5",
            "--threads", "1",
        ]
        if trusting { arguments += ["--upstream-ca-file", directory.appendingPathComponent("ca.crt").path] }
        let started = try RunningBinary("studiogate", arguments)
        gateway = started
        return started
    }

    /// `count` concurrent misses of distinct list pages (nothing coalesces), all answered 200.
    func concurrentMisses(_ gateway: RunningBinary, count: Int, firstPageSize: Int = 1) {
        let path = "/v2/Flows/\(MockFixtures.flowA)/Executions"
        let port = gateway.port
        let statuses = Locked<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: count) { index in
            let status =
                (try? GatewayHarness.send(
                    port, "GET", "\(path)?PageSize=\(firstPageSize + index)", auth: GatewayHarness.authA
                ).status) ?? -1
            statuses.withLock { $0.append(status) }
        }
        XCTAssertEqual(statuses.withLock { $0 }, Array(repeating: 200, count: count))
    }

    func metric(_ gateway: RunningBinary, _ sample: String) throws -> Int {
        let metrics = try GatewayHarness.send(gateway.port, "GET", "/metrics", auth: nil).text
        let line = try XCTUnwrap(metrics.split(separator: "\n").first { $0.hasPrefix(sample + " ") }, "no \(sample)")
        return Int(line.split(separator: " ").last!) ?? -1
    }

    func testAnUntrustedCertificateIsRefusedWith502() throws {
        let gateway = try startGateway(port: http2Port, trusting: false)
        let response = try GatewayHarness.send(
            gateway.port, "GET", "/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA)",
            auth: GatewayHarness.authA)
        XCTAssertEqual(response.status, 502)
        XCTAssertEqual(response.json?["code"] as? Int, 20502)
        XCTAssertTrue(response.text.contains("TLS"), response.text)
        XCTAssertEqual(
            try MockControl(port: mock.port).totalCount(), 0,
            "nothing may reach the upstream over an untrusted TLS connection")
    }

    func testHTTP2CallsAreMultiplexedOverOneConnection() throws {
        let gateway = try startGateway(port: http2Port, trusting: true)
        concurrentMisses(gateway, count: 24)
        XCTAssertEqual(try metric(gateway, #"studiogate_upstream_calls_by_version_total{version="2"}"#), 24)
        XCTAssertEqual(
            try metric(gateway, #"studiogate_upstream_connections_total{kind="opened"}"#), 1,
            "24 concurrent calls share one HTTP/2 connection")
        XCTAssertEqual(try metric(gateway, "studiogate_upstream_tls_handshakes_total"), 1)
        // A 401 over HTTP/2 comes back at once with its challenge, too.
        let wrong = try GatewayHarness.send(
            gateway.port, "GET", "/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA)",
            auth: RawClient.basicAuth(MockFixtures.accountA, "wrong"))
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(wrong.header("WWW-Authenticate"), #"Basic realm="Twilio API""#)
    }

    func testHTTP11KeepsConnectionsAlive() throws {
        let gateway = try startGateway(port: http1Port, trusting: true)
        for index in 0..<10 {
            XCTAssertEqual(
                try GatewayHarness.send(
                    gateway.port, "GET", "/v2/Flows/\(MockFixtures.flowA)/Executions?PageSize=\(index + 1)",
                    auth: GatewayHarness.authA
                ).status, 200)
        }
        concurrentMisses(gateway, count: 8, firstPageSize: 11)
        XCTAssertEqual(try metric(gateway, #"studiogate_upstream_calls_by_version_total{version="1.1"}"#), 18)
        XCTAssertEqual(try metric(gateway, #"studiogate_upstream_calls_by_version_total{version="2"}"#), 0)
        let opened = try metric(gateway, #"studiogate_upstream_connections_total{kind="opened"}"#)
        XCTAssertLessThanOrEqual(opened, 8, "sequential calls reuse one connection; concurrent ones need their own")
        XCTAssertEqual(try metric(gateway, "studiogate_upstream_tls_handshakes_total"), opened)
    }
}
