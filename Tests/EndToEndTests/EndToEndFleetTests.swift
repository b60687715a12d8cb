import Auth
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

    /// These tests are about what the fleet does, not how fast: a command budget a busy two-core
    /// machine keeps (the product's 5 ms is measured by bench/, and a hung Redis within it by
    /// `FleetInProcessTests`).
    static let redisTimeout = "200ms"

    /// The data key of the fleet under test, and the one it rotates to.
    static let dataKey = String(repeating: "3c", count: 32)
    static let newDataKey = String(repeating: "d7", count: 32)
    static let adminToken = "fleet-admin-token-0123456789abcdef-0123456789"

    /// A gateway of the fleet; `dataKey` nil runs it without one.
    func startGateway(_ extra: [String] = [], dataKey: String? = EndToEndFleetTests.dataKey) throws -> RunningBinary {
        try RunningBinary(
            "studiogate",
            [
                "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(mock.port)", "--threads", "2",
                "--redis", "redis://127.0.0.1:\(redis.port)/0", "--redis-timeout", Self.redisTimeout, "--redis-prefix",
                "test:",
                "--admin-listen", "127.0.0.1:0", "--admin-token", Self.adminToken,
            ] + (dataKey.map { ["--data-key", $0] } ?? []) + extra)
    }

    /// Replaces the fleet's gateways (all stopped first) with `count` new ones.
    func restartGateways(_ count: Int = 2, dataKey: String?) throws {
        for gateway in gateways { gateway.stop() }
        gateways = try (0..<count).map { _ in try startGateway(dataKey: dataKey) }
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
        // Each pod's public URL is its own listen address: pod 1 names itself, not pod 0.
        let (origin0, origin1) = ("http://127.0.0.1:\(gateways[0].port)", "http://127.0.0.1:\(gateways[1].port)")
        let firstText = String(decoding: first.body, as: UTF8.self)
        XCTAssertTrue(firstText.contains("\"\(origin0)/v2/"), firstText)
        XCTAssertEqual(
            String(decoding: second.body, as: UTF8.self), firstText.replacingOccurrences(of: origin0, with: origin1))
        XCTAssertEqual(try control.count(ended), 1, "the second pod did not call the upstream")
        let third = try get(1, ended)
        XCTAssertEqual(third.header("X-Cache"), "HIT")
        XCTAssertNil(third.header("X-Cache-Level"), "now from the pod's own first level")
        XCTAssertTrue(
            gateways[1].output(containing: #""cache":"HIT-L2""#).contains(#""cache":"HIT-L2""#),
            "the access log names the level")
    }

    func testAnotherAccountNeverGetsTheEntryAndAMovedOrChangedValueIsRefused() throws {
        XCTAssertEqual(try get(0, ended).status, 200)
        try awaitSharedEntry(ended)
        let other = try get(1, ended, auth: GatewayHarness.authB)
        XCTAssertNotEqual(other.status, 200, "B's credential is Twilio's to judge, never answered from A's entry")
        XCTAssertEqual(other.header("X-Cache"), "MISS")
        let key = try entryKey(ended)
        var stored = try redisCLI(["--raw", "GET", key])
        XCTAssertEqual(stored.popLast(), 0x0A)  // redis-cli ends its output with a newline
        // A's sealed value moved under another key (another resource of the same execution): it
        // does not open there.
        let context = try entryKey("\(ended)/Context", fetch: true)
        _ = try redisCLI(["-x", "SET", context], input: stored)
        _ = try get(1, "/v2/Flows/\(flow)/Executions/\(MockFixtures.activeExecutionA)")  // pod 1 proven for A
        let moved = try get(1, "\(ended)/Context")
        XCTAssertEqual(moved.status, 200)
        XCTAssertEqual(moved.header("X-Cache"), "MISS", "a value moved to another key was refused")
        XCTAssertTrue(moved.text.contains("execution_sid"), "the upstream's Context, not the execution")
        // One byte of A's value changed: refused, and replaced by the upstream's answer.
        stored[stored.count / 2] ^= 0x01
        _ = try redisCLI(["-x", "SET", key], input: stored)
        let changed = try get(1, ended)
        XCTAssertEqual(changed.status, 200)
        XCTAssertEqual(changed.header("X-Cache"), "MISS", "a changed value was refused")
        let metrics = try GatewayHarness.send(gateways[1].port, "GET", "/metrics", auth: nil)
        XCTAssertTrue(
            String(decoding: metrics.body, as: UTF8.self).contains(
                #"studiogate_second_level_requests_total{result="refused"} 2"#))
        try awaitValue(key, not: stored)
    }

    func testRedisHoldsNothingReadableAndAMintedProofGivesNoHit() throws {
        let context = "\(ended)/Context"
        for path in [ended, context, "\(ended)/Steps"] { XCTAssertEqual(try get(0, path).status, 200) }
        try awaitSharedEntry(context)
        let keys = try redisCLI(["--raw", "KEYS", "test:*"]).split(separator: 0x0A).map {
            String(decoding: $0, as: UTF8.self)
        }
        XCTAssertGreaterThan(keys.count, 5)
        var everything: [UInt8] = Array(keys.joined(separator: "\n").utf8)
        for key in keys {
            let type = String(decoding: try redisCLI(["TYPE", key]), as: UTF8.self)
            everything += try redisCLI(["--raw", type.hasPrefix("set") ? "SMEMBERS" : "GET", key])
        }
        for secret in [MockFixtures.accountA, "+14155551216", "execution_sid", "Zo\u{00EB}", "account_sid"] {
            XCTAssertNil(everything.firstRange(of: Array(secret.utf8)), "Redis holds \(secret) in clear")
        }
        XCTAssertNil(everything.firstRange(of: [0x1F, 0x8B, 0x08]), "no gzip body in clear")
        // A proof minted for a made-up credential, under every name an attacker could think of.
        let madeUp = RawClient.basicAuth(MockFixtures.accountA, "made-up-token")
        let digest = SHA256.hash(madeUp.utf8).description
        for family in 0..<8 {
            for name in ["test:{p:\(digest)}:\(family)", "test:proof:\(digest):\(family)"] {
                _ = try redisCLI(["SET", name, MockFixtures.accountA])
            }
        }
        for proof in keys where proof.contains("{p:") { _ = try redisCLI(["SET", proof, MockFixtures.accountA]) }
        let minted = try get(1, context, auth: madeUp)
        XCTAssertEqual(minted.status, 401, "the made-up credential is Twilio's to refuse")
        XCTAssertNotEqual(minted.header("X-Cache"), "HIT")
    }

    func testARotatedKeyKeepsEverySecondLevelHit() throws {
        XCTAssertEqual(try get(0, ended).status, 200)
        try awaitSharedEntry(ended)
        // The new key in front, the old one behind: values sealed with the old key still open,
        // and names (made with the last key) do not move.
        gateways[1].stop()
        gateways[1] = try startGateway(dataKey: "\(Self.newDataKey),\(Self.dataKey)")
        let rotated = try get(1, ended)
        XCTAssertEqual(rotated.header("X-Cache-Level"), "L2", "the proof and the entry opened with the old key")
        XCTAssertEqual(try control.count(ended), 1)
    }

    func testWithoutADataKeyProofsAreNotSharedAndValuesStillNameTheirAccount() throws {
        try restartGateways(dataKey: nil)
        XCTAssertTrue(gateways[0].output(containing: "without --data-key").contains("proofs are not shared"))
        XCTAssertEqual(try get(0, ended).status, 200)
        try awaitSharedEntry(ended, proof: false)
        // Pod 1 has not verified this credential and no proof is shared: it asks Twilio itself.
        XCTAssertEqual(try get(1, ended).header("X-Cache"), "MISS")
        XCTAssertEqual(try control.count(ended), 2)
        // A value planted under A's key that names another account is refused.
        let key = try entryKey(ended)
        var stored = try redisCLI(["--raw", "GET", key])
        XCTAssertEqual(stored.popLast(), 0x0A)
        let planted = Self.replacing(
            Array(MockFixtures.accountA.utf8), with: Array(MockFixtures.accountB.utf8), in: stored)
        XCTAssertNotEqual(planted, stored)
        _ = try redisCLI(["-x", "SET", key], input: planted)
        let purged = try adminPurge(1, "execution=\(MockFixtures.endedExecutionA)")  // pod 1's own copy goes
        XCTAssertEqual(purged["purged"] as? Int, 1)
        _ = try redisCLI(["-x", "SET", key], input: planted)
        let answer = try get(1, ended)
        XCTAssertEqual(answer.header("X-Cache"), "MISS", "the planted value was refused")
        XCTAssertTrue(answer.text.contains(MockFixtures.accountA))
    }

    func testAPurgeOnOnePodReachesRedisAndEveryPod() throws {
        let paths = [ended, "\(ended)/Context", "\(ended)/Steps"]
        for path in paths { XCTAssertEqual(try get(0, path).status, 200) }
        for path in paths { try awaitSharedEntry(path) }  // each lands on its own, in any order
        for path in paths { XCTAssertEqual(try get(1, path).header("X-Cache"), "HIT", path) }
        let before = try paths.map { try control.count($0) }
        let purged = try adminPurge(0, "execution=\(MockFixtures.endedExecutionA)")
        XCTAssertEqual(purged["purged"] as? Int, 3, "pod 0's own copies")
        XCTAssertEqual(purged["redis_purged"] as? Int, 3, "the Redis copies")
        XCTAssertEqual(try redisCLI(["KEYS", "test:{\(MockFixtures.endedExecutionA)}:e:*"]), [0x0A])
        // Pod 1 hears of it on the channel (within milliseconds here); until then it still hits.
        let started = Date()
        let admin = try XCTUnwrap(gateways[1].adminPort)
        while Date().timeIntervalSince(started) < 2 {
            let held = try GatewayHarness.send(
                admin, "GET", "/admin/entries?execution=\(MockFixtures.endedExecutionA)",
                auth: "Bearer \(Self.adminToken)")
            if (held.json?["entries"] as? [Any])?.isEmpty == true { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        var results: [String] = []
        for pod in 0..<2 {
            for path in paths { results.append(try get(pod, path).header("X-Cache") ?? "-") }
        }
        XCTAssertEqual(Array(results.prefix(3)), ["MISS", "MISS", "MISS"], "pod 0 asked the upstream")
        XCTAssertFalse(results.dropFirst(3).contains("MISS"), "pod 1 got pod 0's fresh answers from the fleet")
        let after = try paths.map { try control.count($0) }
        XCTAssertEqual(zip(after, before).map { $0 - $1 }, [1, 1, 1], "each path fetched once more, for both pods")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "the purge reached pod 1 within 2 s")
    }

    /// `POST /admin/purge?QUERY` on pod `pod`'s admin listener.
    private func adminPurge(_ pod: Int, _ query: String) throws -> [String: Any] {
        let admin = try XCTUnwrap(gateways[pod].adminPort)
        let answer = try GatewayHarness.send(admin, "POST", "/admin/purge?\(query)", auth: "Bearer \(Self.adminToken)")
        XCTAssertEqual(answer.status, 200, answer.text)
        return try XCTUnwrap(answer.json)
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
    /// `proof`: also its credential's proof (written on another pipelined connection, so it may land
    /// after the entry); off for gateways without a data key, which share none.
    private func awaitSharedEntry(_ path: String, proof: Bool = true) throws {
        _ = try entryKey(path)
        let deadline = Date().addingTimeInterval(5)
        while proof, try redisCLI(["--raw", "KEYS", "test:{p:*"]).count <= 1 {
            guard Date() < deadline else { return XCTFail("no proof in Redis within 5 s") }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    /// The Redis key of `path`'s entry (its account part is a keyed name with a data key), once
    /// it exists; `fetch`: pod 0 fetches it first.
    private func entryKey(_ path: String, fetch: Bool = false) throws -> String {
        if fetch { XCTAssertEqual(try get(0, path).status, 200) }
        let execution = try XCTUnwrap(path.firstRange(of: /FN[0-9a-f]{32}/).map { String(path[$0]) })
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let keys = try redisCLI(["--raw", "KEYS", "test:{\(execution)}:e:*"]).split(separator: 0x0A)
                .map { String(decoding: $0, as: UTF8.self) }
            if let key = keys.first(where: { $0.hasSuffix(":" + path) }) { return key }
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTFail("no entry for \(path) in Redis within 5 s")
        throw NoAnswer(seconds: 5)
    }

    /// Waits until `key` holds something other than `old` (the upstream's answer replaced it).
    private func awaitValue(_ key: String, not old: [UInt8]) throws {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            var value = try redisCLI(["--raw", "GET", key])
            _ = value.popLast()
            if !value.isEmpty && value != old { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTFail("\(key) was not replaced within 5 s")
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
