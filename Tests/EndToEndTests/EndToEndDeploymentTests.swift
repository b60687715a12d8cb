import Foundation
import Glibc
import MockStudio
import XCTest

@testable import TestSupport

/// What deployments rely on (issue 19): the exec probe, start-up refusals and warnings, signals
/// during start-up, and one accounting rule for every answer.
final class EndToEndDeploymentTests: XCTestCase {
    var harness: GatewayHarness?
    var base: String { "/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA)" }

    override func tearDown() { harness?.stop() }

    struct Finished {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
    }

    /// Runs the studiogate binary to completion.
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Finished {
        let process = Process()
        process.executableURL = RunningBinary.productsDirectory.appendingPathComponent("studiogate")
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let started = Date()
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Finished(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self), seconds: Date().timeIntervalSince(started))
    }

    // MARK: item 1: the exec probe

    func testProbeExitsZeroOnAHealthyGatewayAndOneOtherwise() throws {
        harness = try GatewayHarness()
        let port = try XCTUnwrap(harness?.gateway.port)
        let healthy = try run(["probe", "http://127.0.0.1:\(port)/healthz"])
        XCTAssertEqual(healthy.status, 0, healthy.stderr)
        XCTAssertEqual(try run(["probe", "http://127.0.0.1:\(port)/readyz"]).status, 0)
        XCTAssertEqual(try run(["probe", "http://localhost:\(port)/healthz", "--timeout", "1"]).status, 0)

        let closed = try run(["probe", "http://127.0.0.1:\(LoopbackPort.free())/healthz"])
        XCTAssertEqual(closed.status, 1)
        XCTAssertTrue(closed.stderr.contains("Connection refused"), closed.stderr)
        let notFound = try run(["probe", "http://127.0.0.1:\(port)/no-such-endpoint"])
        XCTAssertEqual(notFound.status, 1)
        XCTAssertTrue(notFound.stderr.contains("HTTP 404"), notFound.stderr)
        XCTAssertEqual(try run(["probe", "https://127.0.0.1:\(port)/healthz"]).status, 2, "http only")
        XCTAssertEqual(try run(["probe"]).status, 2)

        // A listener that accepts (in the kernel backlog) but never answers: the timeout bounds it.
        let (fd, silentPort) = LoopbackPort.bind(listening: true)
        defer { close(fd) }
        let silent = try run(["probe", "http://127.0.0.1:\(silentPort)/healthz", "--timeout", "0.5"])
        XCTAssertEqual(silent.status, 1)
        XCTAssertLessThan(silent.seconds, 5)
        XCTAssertTrue(silent.stderr.contains("no answer in time"), silent.stderr)
    }

    /// `--wait` (the pre-1.29 manifest's postStart hook): retries until the gateway comes up.
    func testProbeWaitRetriesUntilTheGatewayListens() throws {
        let port = LoopbackPort.free()
        let probe = Process()
        probe.executableURL = RunningBinary.productsDirectory.appendingPathComponent("studiogate")
        probe.arguments = ["probe", "http://127.0.0.1:\(port)/healthz", "--wait", "20", "--timeout", "1"]
        probe.standardError = FileHandle.nullDevice
        probe.standardOutput = FileHandle.nullDevice
        try probe.run()
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertTrue(probe.isRunning, "nothing listens yet: the probe keeps trying")
        let gateway = try RunningBinary(
            "studiogate", ["--listen", "127.0.0.1:\(port)", "--upstream", "http://127.0.0.1:1"])
        defer { gateway.stop() }
        probe.waitUntilExit()
        XCTAssertEqual(probe.terminationStatus, 0)
    }

    // MARK: items 5, 10, 15: start-up warnings and refusals

    func testWildcardListenWithoutPublicURLWarnsAtStart() throws {
        let process = Process()
        process.executableURL = RunningBinary.productsDirectory.appendingPathComponent("studiogate")
        process.arguments = ["--listen", "0.0.0.0:0", "--upstream", "http://127.0.0.1:\(LoopbackPort.free())"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var text = ""
        while !text.contains("listening on") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        XCTAssertTrue(
            text.contains(#""level":"warn""#) && text.contains("without a public URL") && text.contains("--public-url"),
            text)
    }

    func testAnUnwritableStateDirIsRefusedAtStart() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("studiogate-file-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let refused = try run(["--listen", "127.0.0.1:0", "--state-dir", file.path + "/state"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(
            refused.stderr.contains("state dir") && refused.stderr.contains("not a directory"), refused.stderr)
        XCTAssertFalse(refused.stdout.contains("listening on"))
    }

    func testAddressInUseSuggestsListen() throws {
        harness = try GatewayHarness()
        let port = try XCTUnwrap(harness?.gateway.port)
        let second = try run(["--listen", "127.0.0.1:\(port)", "--upstream", "http://127.0.0.1:1"])
        XCTAssertEqual(second.status, 1)
        XCTAssertTrue(
            second.stderr.contains("Address already in use") && second.stderr.contains("--listen HOST:PORT"),
            second.stderr)
    }

    // MARK: item 14: a signal during start-up is never fatal

    func testSIGTERMDuringStartUpIsHandledNotFatal() throws {
        for _ in 0..<3 {
            let process = Process()
            process.executableURL = RunningBinary.productsDirectory.appendingPathComponent("studiogate")
            process.arguments = ["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--state-dir", ""]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            // As soon as the mask says SIGTERM is blocked (CStartup's .preinit_array, before any
            // library initialiser), send it: it must wait for the gateway, then drain and exit 0.
            let pid = process.processIdentifier
            let deadline = Date().addingTimeInterval(5)
            var blocked = false
            while !blocked && Date() < deadline {
                if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                    let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
                    let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16)
                {
                    blocked = mask & (1 << (UInt64(SIGTERM) - 1)) != 0
                }
            }
            XCTAssertTrue(blocked)
            kill(pid, SIGTERM)
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .exit)
            XCTAssertEqual(process.terminationStatus, 0, output)
            XCTAssertTrue(
                output.contains("listening on") && output.contains("SIGTERM: draining") && output.contains("stopped"),
                output)
        }
    }

    // MARK: item 13: one accounting rule per answer

    func testReloadsAreLoggedWhateverTheLevel() throws {
        harness = try GatewayHarness(["--log-level", "error"])
        harness?.gateway.signal(SIGHUP)
        let output = try XCTUnwrap(harness?.gateway.output(containing: "configuration reloaded"))
        XCTAssertTrue(output.contains(#""level":"notice","message":"configuration reloaded"#), output)
    }

    func testUnreadableRequestsAreLoggedAndCounted() throws {
        harness = try GatewayHarness(["--header-timeout", "0.5", "--max-body-bytes", "1K"])
        let gateway = try XCTUnwrap(harness?.gateway)
        func answer(_ raw: String) throws -> Int {
            let client = try RawClient(port: gateway.port)
            client.send(raw)
            return try client.readResponse().status
        }
        XCTAssertEqual(try answer("GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n"), 414)
        XCTAssertEqual(
            try answer("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 70_000))\r\n\r\n"),
            431)
        XCTAssertEqual(try answer("POST \(base) HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"), 413)
        XCTAssertEqual(try answer("GET /healthz HTTP/1.1\r\nHost: x\r\n"), 408)
        XCTAssertEqual(try answer("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -4\r\n\r\n"), 400)
        let metrics = try XCTUnwrap(harness?.get("/metrics", auth: nil)).text
        for status in [400, 408, 413, 414, 431] {
            XCTAssertTrue(
                metrics.contains(
                    "studiogate_requests_total{route=\"unmatched\",status=\"\(status)\",cache=\"BYPASS\"} 1"),
                "\(status) not counted:\n\(metrics)")
        }
        Thread.sleep(forTimeInterval: 0.2)
        let lines = gateway.capturedOutput.split(separator: "\n").filter { $0.contains(#""method":"-""#) }
        XCTAssertEqual(
            Set(
                lines.compactMap { line in
                    (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["status"] as? Int
                }), [400, 408, 413, 414, 431], gateway.capturedOutput)
    }

    func testRefusalsAreCountedUnderTheRouteTheyMatched() throws {
        harness = try GatewayHarness()
        XCTAssertEqual(try harness?.get(base, auth: nil).status, 401)
        XCTAssertEqual(
            try harness?.viaGateway("DELETE", "/v2/Flows/\(MockFixtures.flowA)/Executions", auth: GatewayHarness.authA)
                .status, 405)
        XCTAssertEqual(try harness?.get("/v2/Nope", auth: nil).status, 404)
        let metrics = try XCTUnwrap(harness?.get("/metrics", auth: nil)).text
        XCTAssertTrue(
            metrics.contains(#"studiogate_requests_total{route="v2_execution",status="401",cache="BYPASS"} 1"#), metrics
        )
        XCTAssertTrue(
            metrics.contains(#"studiogate_requests_total{route="v2_execution_list",status="405",cache="BYPASS"} 1"#),
            metrics)
        XCTAssertTrue(
            metrics.contains(#"studiogate_requests_total{route="unmatched",status="404",cache="BYPASS"} 1"#), metrics)
    }

    func testA502OnAGetIsAMissInTheHeaderAndInStats() throws {
        let token = String(repeating: "0123456789abcdef", count: 2)
        let gateway = try RunningBinary(
            "studiogate",
            [
                "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(LoopbackPort.free())",
                "--admin-listen", "127.0.0.1:0", "--admin-token", token, "--upstream-timeout", "2",
            ])
        defer { gateway.stop() }
        let response = try GatewayHarness.send(gateway.port, "GET", base, auth: GatewayHarness.authA)
        XCTAssertEqual(response.status, 502)
        XCTAssertEqual(response.header("X-Cache"), "MISS")
        let admin = try XCTUnwrap(gateway.adminPort)
        let stats = try XCTUnwrap(GatewayHarness.send(admin, "GET", "/admin/stats", auth: "Bearer \(token)").json)
        XCTAssertEqual(stats["misses"] as? Int, 1)
        XCTAssertEqual(stats["bypass"] as? Int, 0)

        // Item 13 too: a known admin path with the wrong method is 405 with Allow, unknown paths 404.
        let purge = try GatewayHarness.send(
            admin, "GET", "/admin/purge?execution=\(MockFixtures.endedExecutionA)", auth: "Bearer \(token)")
        XCTAssertEqual(purge.status, 405)
        XCTAssertEqual(purge.header("Allow"), "POST")
        XCTAssertEqual(
            try GatewayHarness.send(admin, "POST", "/admin/stats", auth: "Bearer \(token)").header("Allow"), "GET")
        XCTAssertEqual(try GatewayHarness.send(admin, "GET", "/admin/nope", auth: "Bearer \(token)").status, 404)
    }
}
