import Compression
import Foundation
import Locking
import MockStudio
import XCTest

@testable import TestSupport

/// The cache against the real binaries, with upstream calls counted by the mock.
final class EndToEndCacheTests: XCTestCase {
    var harness: GatewayHarness!
    let flow = MockFixtures.flowA
    let ended = MockFixtures.endedExecutionA
    let active = MockFixtures.activeExecutionA
    var executions: String { "/v2/Flows/\(flow)/Executions" }

    override func tearDown() { harness?.stop() }

    func start(_ arguments: [String] = []) throws { harness = try GatewayHarness(arguments) }

    func testChangesToAnActiveExecutionShowWithinTheTTLPlusOneSecond() throws {
        try start(["--active-ttl", "1"])
        let path = "\(executions)/\(active)/Context"
        XCTAssertEqual(try harness.get(path).header("X-Cache"), "MISS")
        XCTAssertEqual(try harness.get(path).header("X-Cache"), "HIT")
        let changed = Date()
        try harness.control.call("POST", "/__mock/executions/\(active)/context", body: #"{"changed": true}"#)
        var seenAfter: Double? = nil
        while Date().timeIntervalSince(changed) < 4 {
            let response = try harness.get(path)
            if (response.json?["context"] as? [String: Any])?["changed"] as? Bool == true {
                seenAfter = Date().timeIntervalSince(changed)
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let delay = try XCTUnwrap(seenAfter, "the change never showed")
        XCTAssertLessThanOrEqual(delay, 2.0, "active TTL 1 s + 1 s")

        // The active execution's own fetch lives for the TTL too: its end shows within it.
        let execution = "\(executions)/\(active)"
        XCTAssertEqual(try harness.get(execution).json?["status"] as? String, "active")
        try harness.control.call("POST", "/__mock/executions/\(active)/end")
        Thread.sleep(forTimeInterval: 1.2)
        XCTAssertEqual(
            try harness.get(execution).json?["status"] as? String, "ended", "an active execution is never kept for good"
        )
    }

    func testEndingThroughTheGatewayIsVisibleAtOnce() throws {
        try start(["--active-ttl", "30"])
        let path = "\(executions)/\(active)"
        XCTAssertEqual(try harness.get(path).json?["status"] as? String, "active")
        _ = try harness.get("\(path)/Context")
        XCTAssertEqual(try harness.get(path).header("X-Cache"), "HIT")
        let update = try harness.viaGateway("POST", path, auth: GatewayHarness.authA, body: "Status=ended")
        XCTAssertEqual(update.json?["status"] as? String, "ended")
        let after = try harness.get(path)
        XCTAssertEqual(after.json?["status"] as? String, "ended", "no wait for the TTL after our own update")
        XCTAssertEqual(after.header("X-Cache"), "HIT", "the update's answer is stored as the fetch")
        XCTAssertEqual(
            try harness.get("\(path)/Context").header("X-Cache"), "MISS", "children cached while active were dropped")
        XCTAssertEqual(try harness.get("\(path)/Context").header("X-Cache"), "HIT")
    }

    func testDeleteAndCreateInvalidate() throws {
        try start(["--active-ttl", "30"])
        let path = "\(executions)/\(ended)"
        _ = try harness.get(path)
        _ = try harness.get("\(executions)?PageSize=50")
        XCTAssertEqual(try harness.get("\(executions)?PageSize=50").header("X-Cache"), "HIT")
        let created = try harness.viaGateway(
            "POST", executions, auth: GatewayHarness.authA, body: "To=%2B1555&From=%2B1666")
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.header("X-Cache"), "BYPASS")
        let list = try harness.get("\(executions)?PageSize=50")
        XCTAssertEqual(list.header("X-Cache"), "MISS", "create drops the flow's list pages")
        XCTAssertEqual(
            (list.json?["executions"] as? [[String: Any]])?.first?["sid"] as? String, created.json?["sid"] as? String)
        XCTAssertEqual(try harness.viaGateway("DELETE", path, auth: GatewayHarness.authA).status, 204)
        XCTAssertEqual(try harness.get(path).status, 404, "a deleted execution is not served from cache")
        XCTAssertEqual(try harness.control.count(path, method: "POST"), 0)
    }

    /// Two accounts, an API key, a wrong token and a revoked token: no foreign or unverified hit.
    /// The Host header changes nothing that is stored or served (the rest of the isolation rules
    /// are `GatewayCases.isolationAcrossAccountsKeysAndRevokedCredentials`, run at both levels).
    func testTheHostHeaderChangesNothingStoredOrServed() throws {
        try start()
        let pathB = "/v2/Flows/\(MockFixtures.flowB)/Executions/\(MockFixtures.executionB)/Context"
        XCTAssertEqual(
            try harness.get(pathB, auth: GatewayHarness.authB, host: "studio.twilio.com").header("X-Cache"), "MISS")
        let viaOtherHost = try harness.get(pathB, auth: GatewayHarness.authB, host: "evil.example")
        XCTAssertEqual(viaOtherHost.header("X-Cache"), "HIT")
        XCTAssertEqual(viaOtherHost.text, try harness.get(pathB, auth: GatewayHarness.authB).text)
    }

    /// The derived credential is remembered per connection: switching Authorization on one
    /// keep-alive connection must switch the account, and a wrong token must not ride on it.
    func testCredentialsSwitchedOnOneKeepAliveConnectionAreEachCheckedAnew() throws {
        try start()
        let pathA = "\(executions)/\(ended)/Context"
        XCTAssertEqual(try harness.get(pathA).status, 200)
        XCTAssertEqual(try harness.get(pathA).header("X-Cache"), "HIT")
        let client = try RawClient(port: harness.gateway.port)
        let wrong = RawClient.basicAuth(MockFixtures.accountA, "not-the-token")
        for (auth, status, cached) in [
            (GatewayHarness.authA, 200, true), (GatewayHarness.authB, 404, false),
            (wrong, 401, false), (GatewayHarness.authA, 200, true), (wrong, 401, false),
        ] {
            client.send("GET \(pathA) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(auth)\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, status)
            XCTAssertEqual(response.header("X-Cache") == "HIT", cached)
        }
    }

    func testHundredConcurrentIdenticalMissesMakeAtMostTwoUpstreamCalls() throws {
        try start()
        let path = "\(executions)/\(ended)/Steps"
        try harness.control.fault(#"{"path_prefix": "\#(path)", "delay_ms": 300}"#)
        let port = harness.gateway.port
        let statuses = Locked<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 100) { _ in
            let status = (try? GatewayHarness.send(port, "GET", path, auth: GatewayHarness.authA).status) ?? -1
            statuses.withLock { $0.append(status) }
        }
        XCTAssertEqual(statuses.withLock { $0 }, Array(repeating: 200, count: 100))
        XCTAssertLessThanOrEqual(try harness.control.count(path), 2)
    }

    func testStaleIsServedOnUpstreamFailureAndErrorsAreNeverCached() throws {
        try start(["--active-ttl", "0.5", "--stale-if-error", "30"])
        let path = "\(executions)/\(active)"
        XCTAssertEqual(try harness.get(path).status, 200)
        Thread.sleep(forTimeInterval: 0.7)
        for fault in [#"{"status": 429, "code": 20429}"#, #"{"status": 500}"#, #"{"reset": true}"#] {
            try harness.control.call("DELETE", "/__mock/faults")
            try harness.control.fault(fault)
            let response = try harness.get(path)
            XCTAssertEqual(response.status, 200, fault)
            XCTAssertEqual(response.header("X-Cache"), "STALE", fault)
            XCTAssertNotNil(response.header("Age"))
        }
        // Nothing stale to fall back on: a clean Twilio-style error.
        try harness.control.call("DELETE", "/__mock/faults")
        try harness.control.fault(#"{"status": 429, "code": 20429}"#)
        let uncached = try harness.get("\(executions)/\(active)/Steps")
        XCTAssertEqual(uncached.status, 429)
        XCTAssertEqual(uncached.json?["code"] as? Int, 20429)
        try harness.control.call("DELETE", "/__mock/faults")
        let recovered = try harness.get("\(executions)/\(active)/Steps")
        XCTAssertEqual(recovered.status, 200, "the error was not cached")
        XCTAssertEqual(recovered.header("X-Cache"), "MISS")
    }

    /// Short-lived entries are stored as they came: the miss compresses nothing, the first gzip hit
    /// compresses once, and every client gets the same bytes either way.
    func testShortLivedEntriesAreCompressedOnTheirFirstGzipHit() throws {
        try start(["--active-ttl", "30"])
        let path = "\(executions)/\(active)/Context"
        let miss = try harness.get(path, extraHeaders: "Accept-Encoding: gzip\r\n")
        XCTAssertEqual(miss.header("X-Cache"), "MISS")
        XCTAssertNil(miss.header("Content-Encoding"), "a miss answers with the body it has at hand")
        for _ in 0..<2 {
            let hit = try harness.get(path, extraHeaders: "Accept-Encoding: gzip\r\n")
            XCTAssertEqual(hit.header("X-Cache"), "HIT")
            XCTAssertEqual(hit.header("Content-Encoding"), "gzip")
            XCTAssertEqual(try Zlib.decompress(hit.body), miss.body)
        }
        let plain = try harness.get(path)
        XCTAssertEqual(plain.header("X-Cache"), "HIT")
        XCTAssertNil(plain.header("Content-Encoding"))
        XCTAssertEqual(plain.body, miss.body)
        let engagement = try harness.get(
            "/v1/Flows/\(flow)/Engagements/\(active)/Context", extraHeaders: "Accept-Encoding: gzip\r\n")
        XCTAssertEqual(engagement.status, 200)
    }

    func testGzipIsSentFromStorageToClientsThatAcceptIt() throws {
        try start()
        let path = "\(executions)/\(ended)/Context"
        let plain = try harness.get(path)
        let gzip = try harness.get(path, extraHeaders: "Accept-Encoding: gzip, deflate\r\n")
        XCTAssertEqual(gzip.header("Content-Encoding"), "gzip")
        XCTAssertEqual(Array(gzip.body.prefix(2)), [0x1f, 0x8b])
        XCTAssertEqual(try Zlib.decompress(gzip.body), plain.body)
        XCTAssertNil(try harness.get(path, extraHeaders: "Accept-Encoding: gzip;q=0\r\n").header("Content-Encoding"))
    }

    func testByteBudgetEvictsAndKeepsMemoryBounded() throws {
        try start(["--cache-size", "64K", "--active-ttl", "600", "--threads", "1"])
        let first = "\(executions)?PageSize=1&Page=0"
        _ = try harness.get(first)
        let rssBefore = try harness.gateway.residentKiB()
        for pageSize in 1...40 {
            for page in 0..<12 { _ = try harness.get("\(executions)?PageSize=\(pageSize)&Page=\(page)") }
        }
        XCTAssertEqual(try harness.get(first).header("X-Cache"), "MISS", "the least recently used page was evicted")
        let rssAfter = try harness.gateway.residentKiB()
        // Under a sanitizer RSS is mostly the sanitizer's own (quarantine, shadow memory).
        if ProcessInfo.processInfo.environment["STUDIOGATE_SANITIZER"] == nil {
            XCTAssertLessThan(
                rssAfter - rssBefore, 16 * 1024, "480 distinct pages under a 64 KiB budget must not grow RSS by 16 MiB")
        }
    }
}
