import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// What an operator relies on: health, readiness, metrics, logs, admin, shutdown, persistence.
final class EndToEndOperationsTests: XCTestCase {
    var harness: GatewayHarness!
    var directory: URL?
    let ended = MockFixtures.endedExecutionA
    var base: String { "/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA)" }

    override func tearDown() {
        harness?.stop()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("studiogate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        directory = url
        return url
    }

    func testHealthReadinessAndMetricsAreAnsweredLocally() throws {
        harness = try GatewayHarness()
        XCTAssertEqual(try harness.get("/healthz", auth: nil).text, "ok\n")
        XCTAssertEqual(try harness.get("/readyz", auth: nil).status, 200, "the probe reaches the mock")
        _ = try harness.get(base)
        _ = try harness.get(base)
        let metrics = try harness.get("/metrics", auth: nil)
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        for expected in [
            "studiogate_cache_requests_total{result=\"hit\"} 1", "studiogate_cache_requests_total{result=\"miss\"} 1",
            "studiogate_requests_total{route=\"v2_execution\",status=\"200\",cache=\"HIT\"} 1",
            "studiogate_upstream_requests_total{status=\"200\"} 1", "studiogate_cache_entries 1",
            "studiogate_build_info{version=", "studiogate_open_connections ", "studiogate_verified_credentials 1",
            "studiogate_request_duration_seconds_bucket{le=\"+Inf\"}", "studiogate_upstream_duration_seconds_count 1",
        ] {
            XCTAssertTrue(metrics.text.contains(expected), "missing \(expected)")
        }
        XCTAssertEqual(try harness.control.count("/healthz"), 0)
        XCTAssertEqual(try harness.control.count("/metrics"), 0)
    }

    /// A Studio outage is not the pod's: /readyz stays ready, /upstreamz tells the truth.
    func testUpstreamOutageShowsOnUpstreamzNotReadiness() throws {
        let gateway = try RunningBinary("studiogate", ["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1"])
        defer { gateway.stop() }
        XCTAssertEqual(try GatewayHarness.send(gateway.port, "GET", "/upstreamz", auth: nil).status, 503)
        XCTAssertEqual(try GatewayHarness.send(gateway.port, "GET", "/readyz", auth: nil).status, 200)
        XCTAssertEqual(try GatewayHarness.send(gateway.port, "GET", "/healthz", auth: nil).status, 200)
    }

    /// Twilio answers an unauthenticated `GET /` with 401 and a Basic challenge: that is an answer,
    /// so the upstream is reachable (URLSession used to wait on the challenge and report it down).
    func testAnUpstreamThatChallengesIsReachable() throws {
        harness = try GatewayHarness()
        let started = Date()
        let answer = try harness.get("/upstreamz", auth: nil)
        XCTAssertEqual(answer.status, 200, answer.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5)
        XCTAssertEqual(try harness.control.count("/"), 1)
    }

    func testAccessLogHasOneJSONLinePerRequestAndNoSecrets() throws {
        harness = try GatewayHarness(["--log-level", "info"])
        _ = try harness.get(base + "?PageSize=5&Secret=\(MockFixtures.tokenA)")
        _ = try harness.get(base, auth: RawClient.basicAuth(MockFixtures.accountA, "wrong-\(MockFixtures.tokenA)"))
        _ = try harness.viaGateway(
            "POST", "/v2/Flows/\(MockFixtures.flowA)/Executions", auth: GatewayHarness.authA, body: "To=1&From=2")
        Thread.sleep(forTimeInterval: 0.3)
        let output = harness.gateway.capturedOutput
        let lines = output.split(separator: "\n").filter { $0.contains("\"method\"") }
        XCTAssertEqual(lines.count, 3, output)
        let first = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(first["path"] as? String, base)
        XCTAssertEqual(first["status"] as? Int, 200)
        XCTAssertEqual(first["cache"] as? String, "MISS")
        XCTAssertEqual(first["upstream_status"] as? Int, 200)
        XCTAssertNotNil(first["duration_ms"] as? Double)
        XCTAssertEqual((first["request_id"] as? String)?.hasPrefix("RQ"), true)
        for secret in [
            MockFixtures.tokenA, GatewayHarness.authA, String(GatewayHarness.authA.dropFirst(6)), "Authorization",
            "Basic ",
        ] {
            XCTAssertFalse(output.contains(secret), "log leaks \(secret)")
        }
    }

    func testAdminListenerInspectsAndPurgesWithItsToken() throws {
        let token = "admin-token-0123456789abcdef-0123456789"
        harness = try GatewayHarness(["--admin-listen", "127.0.0.1:0", "--admin-token", token])
        let admin = try XCTUnwrap(harness.gateway.adminPort)
        _ = try harness.get(base)
        _ = try harness.get(base + "/Context")
        XCTAssertEqual(try GatewayHarness.send(admin, "GET", "/admin/stats", auth: nil).status, 401)
        XCTAssertEqual(
            try GatewayHarness.send(admin, "GET", "/admin/stats", auth: "Bearer wrong-token-0123456789").status, 401)
        let bearer = "Bearer \(token)"
        let stats = try XCTUnwrap(GatewayHarness.send(admin, "GET", "/admin/stats", auth: bearer).json)
        XCTAssertEqual(stats["entries"] as? Int, 2)
        let entries = try GatewayHarness.send(admin, "GET", "/admin/entries?execution=\(ended)", auth: bearer)
        let items = try XCTUnwrap(entries.json?["entries"] as? [[String: Any]])
        XCTAssertEqual(items.count, 2)
        XCTAssertEqual(items.first?["account_sid"] as? String, MockFixtures.accountA)
        XCTAssertEqual(items.first?["permanent"] as? Bool, true)
        XCTAssertNotNil(items.first?["size_bytes"] as? Int)
        XCTAssertFalse(entries.text.contains("context"), "metadata only, never bodies")
        XCTAssertEqual(
            try GatewayHarness.send(admin, "POST", "/admin/purge?execution=\(ended)", auth: bearer).json?["purged"]
                as? Int, 2)
        XCTAssertEqual(try harness.get(base).header("X-Cache"), "MISS")
        XCTAssertEqual(
            try GatewayHarness.send(admin, "POST", "/admin/purge?flow=\(MockFixtures.flowA)", auth: bearer).json?[
                "purged"] as? Int, 1)
        XCTAssertEqual(
            try harness.get("/admin/stats", auth: bearer).status, 404, "admin endpoints are not on the main listener")
    }

    func testAdminListenerRefusesToStartOffLoopbackWithoutAToken() throws {
        let process = Process()
        process.executableURL = RunningBinary.productsDirectory.appendingPathComponent("studiogate")
        process.arguments = ["--admin-listen", "0.0.0.0:0"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2)
    }

    /// Issue 18 #7: a world-writable --state-dir is refused at start with a clear message.
    func testWorldWritableStateDirectoryIsRefusedAtStart() throws {
        let directory = try temporaryDirectory()
        XCTAssertEqual(chmod(directory.path, 0o777), 0)
        let process = Process()
        process.executableURL = RunningBinary.productsDirectory.appendingPathComponent("studiogate")
        process.arguments = ["--listen", "127.0.0.1:0", "--state-dir", directory.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // it must not start
        DispatchQueue.global().asyncAfter(deadline: .now() + 10) { if process.isRunning { process.terminate() } }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2, message)
        XCTAssertTrue(message.contains("world-writable"), message)
    }

    func testSIGTERMLetsInFlightRequestsFinishThenExitsZero() throws {
        harness = try GatewayHarness(["--drain-timeout", "5"])
        try harness.control.fault(#"{"path_prefix": "\#(base)", "delay_ms": 800}"#)
        let port = harness.gateway.port
        let result = expectation(description: "slow request answered")
        let path = base
        DispatchQueue.global().async {
            let response = try? GatewayHarness.send(port, "GET", path, auth: GatewayHarness.authA)
            XCTAssertEqual(response?.status, 200)
            result.fulfill()
        }
        Thread.sleep(forTimeInterval: 0.3)
        harness.gateway.signal(SIGTERM)
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertThrowsError(try RawClient(port: port), "no new connections while draining")
        wait(for: [result], timeout: 5)
        harness.gateway.process.waitUntilExit()
        XCTAssertEqual(harness.gateway.process.terminationStatus, 0)
    }

    func testSIGHUPReloadsTheConfigFile() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("config.json")
        try Data(#"{"active_ttl": 1}"#.utf8).write(to: file)
        harness = try GatewayHarness(["--config", file.path])
        try Data(#"{"active_ttl": 7, "log_level": "warn"}"#.utf8).write(to: file)
        harness.gateway.signal(SIGHUP)
        let expected = "configuration reloaded: active_ttl=7.0"
        let reloaded = harness.gateway.output(containing: expected)
        XCTAssertTrue(harness.gateway.process.isRunning, "SIGHUP must never terminate the gateway")
        XCTAssertTrue(reloaded.contains(expected), reloaded)
        _ = try harness.get(base)
        XCTAssertEqual(try harness.get("/healthz", auth: nil).status, 200, "serving continues")
    }

    /// Ended entries survive kill -9 (from the periodic snapshot); once the caller is verified
    /// again for a kind of resource (one upstream call each), every restored entry of that kind is
    /// served without asking the upstream.
    func testEndedEntriesSurviveARestartAndDamagedSnapshotsAreSurvived() throws {
        let directory = try temporaryDirectory()
        harness = try GatewayHarness(["--state-dir", directory.path, "--snapshot-interval", "0.2"])
        // ended too
        let other = "/v2/Flows/\(MockFixtures.flowA)/Executions/FN" + String(repeating: "0", count: 28) + "a103"
        let paths = [base, base + "/Context", base + "/Steps", other, other + "/Context", other + "/Steps"]
        for path in paths { XCTAssertEqual(try harness.get(path).status, 200) }
        Thread.sleep(forTimeInterval: 0.6)
        let snapshot = directory.appendingPathComponent("cache.snapshot")
        let attributes = try FileManager.default.attributesOfItem(atPath: snapshot.path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let bytes = try Data(contentsOf: snapshot)
        XCTAssertFalse(
            String(decoding: bytes, as: UTF8.self).contains(MockFixtures.tokenA), "credentials are never written")

        try harness.restartGateway(killing: SIGKILL)
        let before = try paths.map { try harness.control.count($0) }
        for path in paths.prefix(3) { XCTAssertEqual(try harness.get(path).status, 200) }  // verify the caller per kind
        for path in paths.dropFirst(3) {
            let response = try harness.get(path)
            XCTAssertEqual(response.header("X-Cache"), "HIT", path)
        }
        let after = try paths.map { try harness.control.count($0) }
        XCTAssertEqual(zip(after, before).map { $0 - $1 }, [1, 1, 1, 0, 0, 0])

        // Garbled and truncated files: reported, skipped, never a crash.
        var garbled = [UInt8](bytes)
        garbled[garbled.count / 2] ^= 0xFF
        let reports = ["skipped 1 corrupt records", "file truncated", "unreadable header"]
        for (damaged, report) in zip(
            [Data(garbled), bytes.prefix(bytes.count - 10), Data("not a snapshot".utf8)], reports)
        {
            harness.gateway.signal(SIGKILL)
            harness.gateway.process.waitUntilExit()
            try damaged.write(to: snapshot)
            try harness.restartGateway(killing: SIGKILL)
            XCTAssertEqual(try harness.get(paths[0]).status, 200)
            let output = harness.gateway.output(containing: report)
            XCTAssertTrue(output.contains(report), "expected '\(report)' in \(output)")
        }
    }
}
