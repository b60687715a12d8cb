import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// The fleet over rediss:// (issue 26): two real gateways share entries through a real Redis
/// that speaks TLS only and demands client certificates, configured by --redis-ca-file,
/// --redis-cert-file and --redis-key-file; a gateway that does not trust Redis's certificate
/// serves every request from the upstream, as if Redis were down, and logs why once.
final class EndToEndFleetTLSTests: XCTestCase {
    var certificates: TestCertificates!
    var redis: RedisServerProcess!
    var mock: RunningBinary!
    var gateways: [RunningBinary] = []
    var control: MockControl!
    var ended: String { "/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA)" }

    override func setUpWithError() throws {
        try RedisServerProcess.skipUnlessInstalled()
        try TestCertificates.skipUnlessInstalled()
        certificates = try TestCertificates()
        redis = try RedisServerProcess(
            tls: .init(
                certificate: certificates.server.certificate, key: certificates.server.key,
                caFile: certificates.caFile, authClients: true))
        mock = try RunningBinary("mock-studio", ["--listen", "127.0.0.1:0", "--threads", "2"])
        control = MockControl(port: mock.port)
    }

    override func tearDown() {
        for gateway in gateways { gateway.stop() }
        mock?.stop()
        redis?.stop()
        certificates?.remove()
    }

    func startGateway(caFile: String) throws -> RunningBinary {
        let gateway = try RunningBinary(
            "studiogate",
            [
                "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(mock.port)", "--threads", "2",
                "--redis", "rediss://127.0.0.1:\(redis.port)/0", "--redis-timeout", EndToEndFleetTests.redisTimeout,
                "--redis-prefix", "test:", "--data-key",
                String(repeating: "e4", count: 32),
                "--redis-cert-file", certificates.client.certificate,
            ], environment: ["STUDIOGATE_REDIS_CA_FILE": caFile, "STUDIOGATE_REDIS_KEY_FILE": certificates.client.key])
        gateways.append(gateway)
        return gateway
    }

    func get(_ gateway: RunningBinary, _ path: String) throws -> RawClient.Response {
        try GatewayHarness.send(gateway.port, "GET", path, auth: GatewayHarness.authA)
    }

    func testTwoGatewaysShareEntriesOverMutualTLS() throws {
        let first = try startGateway(caFile: certificates.caFile)
        let second = try startGateway(caFile: certificates.caFile)
        XCTAssertTrue(first.output(containing: "(TLS, CAs from").contains(certificates.caFile), "the log says TLS")
        let miss = try get(first, ended)
        XCTAssertEqual(miss.status, 200)
        XCTAssertEqual(miss.header("X-Cache"), "MISS")
        try awaitSharedEntry(ended)
        let shared = try get(second, ended)
        XCTAssertEqual(shared.status, 200)
        XCTAssertEqual(shared.header("X-Cache"), "HIT")
        XCTAssertEqual(shared.header("X-Cache-Level"), "L2")
        // Each answers with its own public URL (its listen address here).
        XCTAssertEqual(
            String(decoding: shared.body, as: UTF8.self),
            String(decoding: miss.body, as: UTF8.self).replacingOccurrences(
                of: "http://127.0.0.1:\(first.port)", with: "http://127.0.0.1:\(second.port)"))
        XCTAssertEqual(try control.count(ended), 1, "the second gateway did not call the upstream")
        XCTAssertFalse(first.output(containing: "(TLS", within: 0).contains("PRIVATE KEY"), "no key in the log")
    }

    func testAGatewayThatDoesNotTrustRedisReadsMissesWithoutAClientError() throws {
        let untrusting = try startGateway(caFile: certificates.otherCAFile)
        for round in 1...3 {
            let response = try get(untrusting, ended)
            XCTAssertEqual(response.status, 200, "round \(round)")
            XCTAssertNil(response.header("X-Cache-Level"), "round \(round): nothing came from Redis")
        }
        let log = untrusting.output(containing: "certificate verification failed")
        XCTAssertTrue(
            log.contains("TLS handshake with 127.0.0.1 failed: certificate verification failed"),
            "the log says why the fleet misses")
        XCTAssertEqual(
            log.components(separatedBy: "certificate verification failed").count - 1, 1,
            "one line for a reason, however many connections retry")
        let redisKeys = try redisCLI(["--raw", "DBSIZE"])
        XCTAssertEqual(redisKeys, Array("0\n".utf8), "nothing was stored through an unverified connection")
    }

    /// The pod stores an entry after answering; waits (boundedly) until it has landed.
    /// The entry and its credential's proof (written on another pipelined connection, so either
    /// may land first).
    private func awaitSharedEntry(_ path: String) throws {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let keys = String(decoding: try redisCLI(["--raw", "KEYS", "test:*"]), as: UTF8.self).split(separator: "\n")
            if keys.contains(where: { $0.contains(":e:") && $0.hasSuffix(":" + path) })
                && keys.contains(where: { $0.contains("{p:") })
            {
                return
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTFail("the entry of \(path) and a proof were not in Redis within 5 s")
    }

    /// redis-cli over TLS with the client certificate.
    private func redisCLI(_ arguments: [String]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments =
            [
                "-h", "127.0.0.1", "-p", String(redis.port), "--tls", "--cacert", certificates.caFile,
                "--cert", certificates.client.certificate, "--key", certificates.client.key,
            ] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(data)
    }
}
