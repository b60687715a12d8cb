import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// Issue 27 against the real binaries and real time: with `--retention 1m`, an ended execution
/// the mock says was created 55 s ago is a HIT now and a MISS 6 s later; one created past
/// retention is never stored; a snapshot restored after the bound restores nothing; Redis
/// (a real redis-server, sealed with `--data-key`) never keeps the entry past the bound.
final class EndToEndRetentionTests: XCTestCase {
    static let adminToken = "retention-admin-token-0123456789abcdef-0123"
    static let dataKey = String(repeating: "5e", count: 32)
    var mock: RunningBinary!
    var gateways: [RunningBinary] = []
    var redis: RedisServerProcess?
    let fresh = MockFixtures.endedExecutionA
    let old = "FN" + String(repeating: "0", count: 28) + "a103"
    var bearer: String { "Bearer \(Self.adminToken)" }

    override func tearDown() {
        for gateway in gateways { gateway.stop() }
        mock?.stop()
        redis?.stop()
    }

    func path(_ execution: String, _ child: String = "") -> String {
        "/v2/Flows/\(MockFixtures.flowA)/Executions/\(execution)\(child)"
    }

    func startGateway(stateDirectory: URL) throws -> RunningBinary {
        var arguments = [
            "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(mock.port)", "--threads", "2",
            "--retention", "1m", "--state-dir", stateDirectory.path, "--snapshot-interval", "200ms",
            "--admin-listen", "127.0.0.1:0", "--admin-token", Self.adminToken, "--data-key", Self.dataKey,
        ]
        if let redis {
            arguments += [
                "--redis", "redis://127.0.0.1:\(redis.port)/0", "--redis-timeout", EndToEndFleetTests.redisTimeout,
                "--redis-prefix", "ret:",
            ]
        }
        let gateway = try RunningBinary("studiogate", arguments)
        gateways.append(gateway)
        return gateway
    }

    func stateDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("studiogate-retention-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    func entries(_ gateway: RunningBinary, _ execution: String) throws -> [[String: Any]] {
        let port = try XCTUnwrap(gateway.adminPort)
        let answer = try GatewayHarness.send(port, "GET", "/admin/entries?execution=\(execution)", auth: bearer)
        return try XCTUnwrap(answer.json?["entries"] as? [[String: Any]], answer.text)
    }

    func storedEntries(_ gateway: RunningBinary) throws -> Int {
        let port = try XCTUnwrap(gateway.adminPort)
        return try XCTUnwrap(GatewayHarness.send(port, "GET", "/admin/stats", auth: bearer).json?["entries"] as? Int)
    }

    func testAnEndedExecutionLivesUntilItsCreationPlusRetentionInMemoryOnDiskAndInRedis() throws {
        if FileManager.default.isExecutableFile(atPath: RedisServerProcess.path) { redis = try RedisServerProcess() }
        mock = try RunningBinary("mock-studio", ["--listen", "127.0.0.1:0", "--threads", "2"])
        let control = MockControl(port: mock.port)
        // Whole seconds: the creation time is within a second before `now - 55`, so the bound is
        // in (start + 4, start + 5], and past at start + 6.
        let start = Date()
        try control.setCreated(fresh, secondsAgo: 55)
        try control.setCreated(old, secondsAgo: 61)
        let directory = try stateDirectory()
        let gateway = try startGateway(stateDirectory: directory)
        func get(_ target: String, on gateway: RunningBinary) throws -> RawClient.Response {
            try GatewayHarness.send(gateway.port, "GET", target, auth: GatewayHarness.authA)
        }

        XCTAssertEqual(try get(path(fresh), on: gateway).header("X-Cache"), "MISS")
        XCTAssertEqual(try get(path(fresh), on: gateway).header("X-Cache"), "HIT", "55 s old, retention 60 s")
        let listed = try entries(gateway, fresh)
        XCTAssertEqual(listed.count, 1)
        let expiresAt = try XCTUnwrap(listed.first?["expires_at"] as? String)
        let bound = try XCTUnwrap(ISO8601DateFormatter().date(from: expiresAt))
        XCTAssertLessThanOrEqual(bound.timeIntervalSince(start), 5, "expires_at is date_created + retention")
        XCTAssertGreaterThanOrEqual(bound.timeIntervalSince(start), 3, "expires_at is date_created + retention")

        // Past retention already: passed through every time, never stored anywhere.
        for _ in 0..<3 {
            let answer = try get(path(old), on: gateway)
            XCTAssertEqual(answer.status, 200)
            XCTAssertEqual(answer.header("X-Cache"), "MISS")
        }
        XCTAssertEqual(try entries(gateway, old).count, 0)
        XCTAssertEqual(try control.count(path(old)), 3)

        if let redis {
            // The fleet stores in the background: wait for the entry's copy, then read its PTTL.
            var ttls: [Int] = []
            let deadline = Date().addingTimeInterval(3)
            while ttls.isEmpty, Date() < deadline {
                ttls = try redisCLI(redis, ["--raw", "KEYS", "ret:*"]).split(separator: "\n").compactMap { key in
                    let ttl = Int(
                        try redisCLI(redis, ["PTTL", String(key)]).trimmingCharacters(in: .whitespacesAndNewlines))
                    return ttl.flatMap { $0 > 0 && String(key).contains(":e:") ? $0 : nil }
                }
                if ttls.isEmpty { Thread.sleep(forTimeInterval: 0.05) }
            }
            XCTAssertFalse(ttls.isEmpty, "the entry was never written to Redis")
            // The bound is start + 5 s to within Studio's dates' one-second precision (date_created
            // is written in whole seconds, and the test's start is read a moment before the mock's).
            let left = start.addingTimeInterval(6).timeIntervalSinceNow * 1000
            for ttl in ttls { XCTAssertLessThanOrEqual(Double(ttl), left, "PX never past the bound") }
        }

        // The periodic snapshot (200 ms) holds the entry now; a copy of it is restored after the bound.
        let snapshot = directory.appendingPathComponent("cache.snapshot")
        var written = Date().addingTimeInterval(2)
        while Date() < written, (try? Data(contentsOf: snapshot).count) ?? 0 < 200 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.5)  // a full period after the HIT
        let copied = try stateDirectory()
        try FileManager.default.copyItem(at: snapshot, to: copied.appendingPathComponent("cache.snapshot"))
        written = Date()
        // The copy restores the entry while it is within retention (a control for what follows)…
        let control2 = try stateDirectory()
        try FileManager.default.copyItem(at: snapshot, to: control2.appendingPathComponent("cache.snapshot"))
        let restoredEarly = try startGateway(stateDirectory: control2)
        XCTAssertEqual(try storedEntries(restoredEarly), 1, "the snapshot held the entry")
        restoredEarly.stop()

        // Let real time pass the bound.
        let wait = start.addingTimeInterval(6.2).timeIntervalSinceNow
        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
        let before = try control.count(path(fresh))
        XCTAssertEqual(try get(path(fresh), on: gateway).header("X-Cache"), "MISS", "61 s old")
        XCTAssertEqual(try control.count(path(fresh)), before + 1, "neither memory nor Redis answered it")
        XCTAssertEqual(try entries(gateway, fresh).count, 0, "the fresh answer is not kept either")
        if let redis {
            let keys = try redisCLI(redis, ["--raw", "KEYS", "ret:*"]).split(separator: "\n").filter {
                $0.contains(":e:")
            }
            XCTAssertEqual(keys, [], "Redis let the entry go at its bound")
        }

        // …and nothing after it.
        let restoredLate = try startGateway(stateDirectory: copied)
        XCTAssertEqual(try storedEntries(restoredLate), 0, "a restart after the bound restores nothing")
        XCTAssertEqual(try get(path(fresh), on: restoredLate).header("X-Cache"), "MISS")
        XCTAssertLessThan(Date().timeIntervalSince(written), 10)
    }

    private func redisCLI(_ redis: RedisServerProcess, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-p", String(redis.port)] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
