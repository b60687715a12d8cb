import Foundation
import Glibc
import Locking
import MockStudio
import XCTest

@testable import TestSupport

/// The libcurl upstream against the real binaries: Twilio's 401 challenge, connection reuse for
/// writes, writes never delivered twice, memory under writes and compression bombs, cancellation.
final class EndToEndUpstreamTests: XCTestCase {
    var harness: GatewayHarness!
    let flow = MockFixtures.flowA
    var executions: String { "/v2/Flows/\(flow)/Executions" }
    var ended: String { "\(executions)/\(MockFixtures.endedExecutionA)" }
    var active: String { "\(executions)/\(MockFixtures.activeExecutionA)" }

    override func tearDown() { harness?.stop() }

    func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let started = Date()
        let value = try body()
        return (value, Date().timeIntervalSince(started))
    }

    func testBadCredentialsGetTwilios401AtOnceWithItsChallenge() throws {
        harness = try GatewayHarness()
        let wrongToken = RawClient.basicAuth(MockFixtures.accountA, "not-the-token")
        let unknownUser = RawClient.basicAuth("AC" + String(repeating: "d", count: 32), "whatever")
        for auth in [wrongToken, unknownUser] {
            let (answer, seconds) = try timed { try harness.get(ended, auth: auth) }
            XCTAssertEqual(answer.status, 401)
            XCTAssertEqual(answer.json?["code"] as? Int, 20003)
            XCTAssertEqual(answer.header("WWW-Authenticate"), #"Basic realm="Twilio API""#)
            XCTAssertLessThan(seconds, 1, "a 401 must come back at once, not after the upstream timeout")
        }
    }

    /// Auth TTL at its 300 s default: only the upstream's 401 can end the revoked token's hits.
    func testARevokedTokenLosesHitsAndStaleEntriesAtItsFirst401() throws {
        harness = try GatewayHarness(["--active-ttl", "0.5", "--stale-if-error", "60"])
        XCTAssertEqual(try harness.get(ended).header("X-Cache"), "MISS")
        XCTAssertEqual(try harness.get(ended).header("X-Cache"), "HIT")
        XCTAssertEqual(try harness.get(active).header("X-Cache"), "MISS")
        try harness.control.call("POST", "/__mock/accounts/\(MockFixtures.accountA)/rotate")
        Thread.sleep(forTimeInterval: 0.7)  // the active entry expires; it may only be served stale on 429/5xx
        let (expired, seconds) = try timed { try harness.get(active) }
        XCTAssertEqual(expired.status, 401)
        XCTAssertNotEqual(expired.header("X-Cache"), "STALE")
        XCTAssertLessThan(seconds, 1)
        let before = try harness.control.count(ended)
        let revoked = try harness.get(ended)
        XCTAssertEqual(revoked.status, 401, "the 401 forgot the token: no more hits")
        XCTAssertEqual(try harness.control.count(ended) - before, 1)
    }

    func testGuessedPasswordsDoNotHoldUpstreamSlots() throws {
        harness = try GatewayHarness(["--upstream-concurrency", "4"])
        let statuses = Locked<[Int]>([])
        let (port, path) = (harness.gateway.port, ended)
        let (_, seconds) = timed {
            DispatchQueue.concurrentPerform(iterations: 40) { index in
                let guess = RawClient.basicAuth(MockFixtures.accountA, "guess-\(index)")
                let status = (try? GatewayHarness.send(port, "GET", path, auth: guess).status) ?? -1
                statuses.withLock { $0.append(status) }
            }
        }
        XCTAssertEqual(statuses.withLock { $0 }, Array(repeating: 401, count: 40))
        XCTAssertLessThan(seconds, 5)
        let (legit, legitSeconds) = try timed { try harness.get(ended) }
        XCTAssertEqual(legit.status, 200)
        XCTAssertLessThan(legitSeconds, 1)
    }

    /// `count` creates over `clients` keep-alive connections; returns the statuses.
    func create(_ count: Int, clients: Int) -> [Int] {
        let statuses = Locked<[Int]>([])
        let port = harness.gateway.port
        let body = "To=%2B15551230000&From=%2B15557650000"
        let request =
            "POST \(executions) HTTP/1.1\r\nHost: x\r\nAuthorization: \(GatewayHarness.authA)\r\n"
            + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        DispatchQueue.concurrentPerform(iterations: clients) { index in
            guard let client = try? RawClient(port: port) else { return }
            var mine: [Int] = []
            for _ in 0..<(count / clients + (index < count % clients ? 1 : 0)) {
                client.send(request)
                mine.append((try? client.readResponse().status) ?? -1)
            }
            statuses.withLock { $0 += mine }
        }
        return statuses.withLock { $0 }
    }

    func testAThousandWritesRideAFewUpstreamConnections() throws {
        harness = try GatewayHarness()
        let before = try harness.control.acceptedConnections()
        let statuses = create(1_000, clients: 4)
        XCTAssertEqual(statuses, Array(repeating: 201, count: 1_000))
        let opened = try harness.control.acceptedConnections() - before
        XCTAssertLessThanOrEqual(opened, 10, "1,000 POSTs opened \(opened) upstream connections")
        XCTAssertEqual(try harness.control.count(executions, method: "POST"), 1_000)
    }

    func testWritesOnResetConnectionsAre502AndNeverDeliveredTwice() throws {
        harness = try GatewayHarness()
        try harness.control.fault(
            #"{"path_prefix": "\#(executions)", "method": "POST", "reset": true, "probability": 0.2}"#)
        let statuses = create(300, clients: 3)
        XCTAssertEqual(statuses.count, 300)
        XCTAssertEqual(Set(statuses), [201, 502])
        XCTAssertGreaterThan(statuses.filter { $0 == 502 }.count, 20)
        XCTAssertEqual(
            try harness.control.count(executions, method: "POST"), 300, "each write reached the upstream exactly once")
        let metrics = try harness.get("/metrics", auth: nil).text
        XCTAssertTrue(metrics.contains("studiogate_upstream_writes_not_resent_total"), metrics)
    }

    func testMemoryStaysFlatOverTenThousandWrites() throws {
        harness = try GatewayHarness()
        XCTAssertEqual(Set(create(2_000, clients: 4)), [201])
        let warm = try harness.gateway.residentKiB()
        XCTAssertEqual(Set(create(8_000, clients: 4)), [201])
        let after = try harness.gateway.residentKiB()
        if ProcessInfo.processInfo.environment["STUDIOGATE_SANITIZER"] == nil {  // ASan's quarantine is not ours
            XCTAssertLessThan(
                after - warm, 8 * 1024, "RSS grew from \(warm) KiB to \(after) KiB over 8,000 more writes")
        }
    }

    func testACompressionBombFromTheUpstreamIs502AndCostsNoMemory() throws {
        harness = try GatewayHarness()
        try harness.control.fault(#"{"path_prefix": "\#(ended)", "gzip_bomb_bytes": 100000000}"#)
        let answer = try harness.get(ended)
        XCTAssertEqual(answer.status, 502)
        XCTAssertTrue(answer.text.contains("over"), answer.text)
        if ProcessInfo.processInfo.environment["STUDIOGATE_SANITIZER"] == nil {
            XCTAssertLessThan(try harness.gateway.residentKiB(), 100 * 1024)
        }
    }

    func upstreamInFlight() throws -> Int {
        let metrics = try harness.get("/metrics", auth: nil).text
        let line = try XCTUnwrap(
            metrics.split(separator: "\n").first { $0.hasPrefix("studiogate_upstream_in_flight ") })
        return Int(line.split(separator: " ")[1]) ?? -1
    }

    func testAClientThatLeavesCancelsItsUpstreamCallUnlessOthersWait() throws {
        harness = try GatewayHarness()
        try harness.control.fault(#"{"path_prefix": "\#(ended)", "delay_ms": 1500}"#)
        let request = "GET \(ended) HTTP/1.1\r\nHost: x\r\nAuthorization: \(GatewayHarness.authA)\r\n\r\n"
        do {
            let leaving = try RawClient(port: harness.gateway.port)
            leaving.send(request)
            Thread.sleep(forTimeInterval: 0.2)
            XCTAssertEqual(try upstreamInFlight(), 1)
        }  // closed here
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(try upstreamInFlight(), 0, "nobody waits: the call is cancelled")

        // Two identical misses share one call; one leaving does not cancel it for the other.
        let staying = try RawClient(port: harness.gateway.port)
        staying.send(request)
        do {
            let leaving = try RawClient(port: harness.gateway.port)
            leaving.send(request)
            Thread.sleep(forTimeInterval: 0.2)
        }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(try upstreamInFlight(), 1)
        let answer = try staying.readResponse()
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.header("X-Cache"), "MISS")
    }
}
