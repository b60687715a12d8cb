import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// Two real gateways sharing one real Redis in front of one mock: the fleet's second level
/// (issue 17). Redis is started by the test on a loopback port.
final class EndToEndFleetTests: XCTestCase {
    var redis: RedisServerProcess!
    var mock: RunningBinary!
    var gateways: [RunningBinary] = []
    var control: MockControl!
    let flow = MockFixtures.flowA
    var ended: String { "/v2/Flows/\(flow)/Executions/\(MockFixtures.endedExecutionA)" }
    var active: String { "/v2/Flows/\(flow)/Executions/\(MockFixtures.activeExecutionA)" }

    override func setUpWithError() throws {
        try RedisServerProcess.skipUnlessInstalled()
        redis = try RedisServerProcess()
        mock = try RunningBinary("mock-studio", ["--listen", "127.0.0.1:0", "--threads", "2"])
        control = MockControl(port: mock.port)
        for _ in 0..<2 { gateways.append(try startGateway()) }
    }

    override func tearDown() {
        for gateway in gateways { gateway.stop() }
        mock?.stop()
        redis?.stop()
    }

    func startGateway(_ extra: [String] = []) throws -> RunningBinary {
        try RunningBinary(
            "studiogate",
            [
                "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(mock.port)", "--threads", "2",
                "--redis", "redis://127.0.0.1:\(redis.port)/0", "--redis-prefix", "test:",
            ] + extra)
    }

    func get(_ gateway: Int, _ path: String, auth: String = GatewayHarness.authA) throws -> RawClient.Response {
        try GatewayHarness.send(gateways[gateway].port, "GET", path, auth: auth)
    }

    func testAnEndedExecutionFetchedThroughOnePodIsAHitOnAnotherWithoutAnUpstreamCall() throws {
        let first = try get(0, ended)
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.header("X-Cache"), "MISS")
        try awaitSharedEntry(ended)
        let second = try get(1, ended)
        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(second.header("X-Cache"), "HIT")
        XCTAssertEqual(second.header("X-Cache-Level"), "L2")
        XCTAssertEqual(second.body, first.body)
        XCTAssertEqual(try control.count(ended), 1, "the second pod did not call the upstream")
        let third = try get(1, ended)
        XCTAssertEqual(third.header("X-Cache"), "HIT")
        XCTAssertNil(third.header("X-Cache-Level"), "now from the pod's own first level")
        XCTAssertTrue(
            gateways[1].output(containing: #""cache":"HIT-L2""#).contains(#""cache":"HIT-L2""#),
            "the access log names the level")
    }

    func testAnotherAccountNeverGetsTheEntryAndATamperedValueIsRefusedAndReplaced() throws {
        XCTAssertEqual(try get(0, ended).status, 200)
        try awaitSharedEntry(ended)
        let other = try get(1, ended, auth: GatewayHarness.authB)
        XCTAssertNotEqual(other.status, 200, "B's credential is Twilio's to judge, never answered from A's entry")
        XCTAssertEqual(other.header("X-Cache"), "MISS")
        // A value planted under A's key that names another account.
        let key = "test:{\(MockFixtures.accountA)}:e:\(ended)"
        var stored = try redisCLI(["--raw", "GET", key])
        XCTAssertEqual(stored.popLast(), 0x0A)  // redis-cli ends its output with a newline
        let planted = Self.replacing(
            Array(MockFixtures.accountA.utf8), with: Array(MockFixtures.accountB.utf8), in: stored)
        XCTAssertNotEqual(planted, stored)
        _ = try redisCLI(["-x", "SET", key], input: planted)
        let answer = try get(1, ended)
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.header("X-Cache"), "MISS", "the planted value was refused")
        XCTAssertTrue(String(decoding: answer.body, as: UTF8.self).contains(MockFixtures.accountA))
        let metrics = try GatewayHarness.send(gateways[1].port, "GET", "/metrics", auth: nil)
        XCTAssertTrue(
            String(decoding: metrics.body, as: UTF8.self).contains(
                #"studiogate_second_level_requests_total{result="refused"} 1"#))
        let replaced = try redisCLI(["--raw", "GET", key])
        XCTAssertEqual(
            Self.replacing(Array(MockFixtures.accountA.utf8), with: [], in: replaced).count, replaced.count - 34,
            "replaced by the upstream's answer, which names A")
    }

    func testA401OnOnePodEndsTheCredentialsHitsOnTheOther() throws {
        XCTAssertEqual(try get(0, ended).header("X-Cache"), "MISS")
        try awaitSharedEntry(ended)
        XCTAssertEqual(try get(1, ended).header("X-Cache"), "HIT")
        XCTAssertEqual(try get(1, ended).header("X-Cache"), "HIT")
        try control.call("POST", "/__mock/accounts/\(MockFixtures.accountA)/rotate")
        XCTAssertEqual(try get(0, active).status, 401)
        // The revocation travels by Redis pub/sub: until it lands the other pod still hits (and asks
        // nobody); from then on its first request goes upstream and gets the 401.
        let before = try control.count(ended)
        let started = Date()
        var revoked = try get(1, ended)
        while revoked.status == 200 && Date().timeIntervalSince(started) < 5 {
            Thread.sleep(forTimeInterval: 0.02)
            revoked = try get(1, ended)
        }
        XCTAssertEqual(revoked.status, 401, "no more hits for the revoked credential on the other pod")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "the revocation arrived within 2 s")
        XCTAssertEqual(try control.count(ended) - before, 1, "hits until then, one upstream call after")
    }

    func testRedisStoppedAndStartedAgainCostsNoClientAnErrorAndSharingResumes() throws {
        let paths = [active, "\(ended)/Context", "\(active)/Context", "\(ended)/Steps", ended]
        XCTAssertEqual(try get(0, ended).status, 200)
        redis.kill()
        var statuses: [Int] = []
        for (index, path) in paths.enumerated() { statuses.append(try get(index % 2, path).status) }
        for index in 0..<20 { statuses.append(try get(index % 2, "\(active)?n=\(index)").status) }
        // Both pods ask Twilio for what only one would ask while Redis is there: calls rise.
        let alone = "\(active)/Steps"
        let beforeOutageCalls = try control.count(alone)
        for pod in 0..<2 { statuses.append(try get(pod, alone).status) }
        XCTAssertEqual(try control.count(alone) - beforeOutageCalls, 2)
        XCTAssertEqual(Set(statuses), [200], "Redis down is never the client's error")
        try redis.start()
        Thread.sleep(forTimeInterval: 1.5)  // the circuit's cool-down, then a reconnection
        // Redis is back: what one pod fetches, the other answers from it, and calls fall again.
        let steps = "\(ended)/Steps"
        var (calls, shared) = (0, try get(0, steps))
        for attempt in 0..<20 {
            let page = "\(steps)?PageSize=\(attempt + 2)"
            let before = try control.count(steps)
            _ = try get(0, page)
            shared = try get(1, page)
            calls = try control.count(steps) - before
            if shared.header("X-Cache-Level") == "L2" { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertEqual(shared.header("X-Cache-Level"), "L2", "sharing resumed once Redis was back")
        XCTAssertEqual(calls, 1, "one upstream call for both pods")
    }

    /// Runs redis-cli against the test's Redis; `input` is sent raw on stdin (`-x`: the last argument).
    /// The pod that fetched `path` stores it in Redis after answering (on its own connection to
    /// Redis): another pod asked before that lands misses, as it should. Waits until it has landed.
    private func awaitSharedEntry(_ path: String, account: String = MockFixtures.accountA) throws {
        let key = "test:{\(account)}:e:\(path)"
        let deadline = Date().addingTimeInterval(5)
        while try redisCLI(["EXISTS", key]) != Array("1\n".utf8) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    private func redisCLI(_ arguments: [String], input: [UInt8]? = nil) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-p", String(redis.port)] + arguments
        let output = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(data)
    }

    /// `bytes` with the first occurrence of `old` replaced.
    private static func replacing(_ old: [UInt8], with new: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= old.count,
            let start = (0...(bytes.count - old.count)).first(where: { Array(bytes[$0..<$0 + old.count]) == old })
        else { return bytes }
        return Array(bytes[..<start]) + new + Array(bytes[(start + old.count)...])
    }
}
