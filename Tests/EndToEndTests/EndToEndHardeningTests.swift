import Foundation
import Glibc
import Locking
import MockStudio
import Synchronization
import XCTest

@testable import TestSupport

/// Smuggling, abusive clients and upstream faults against the real binaries.
final class EndToEndHardeningTests: XCTestCase {
    var harness: GatewayHarness!
    var base: String { "/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA)" }
    var active: String { "/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.activeExecutionA)" }

    override func tearDown() { harness?.stop() }

    /// Each framing trick gets 400 (or 505/431), the connection closes, and the request hidden
    /// behind it is never answered or forwarded.
    func testSmugglingAndFramingTricksNeverReachTheUpstream() throws {
        harness = try GatewayHarness()
        let auth = "Authorization: \(GatewayHarness.authA)\r\n"
        let hidden = "GET \(base) HTTP/1.1\r\nHost: x\r\n\(auth)\r\n"
        let cases: [(String, String)] = [
            (
                "CL+TE",
                "POST \(base) HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            (
                "TE+CL",
                "POST \(base) HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"
            ),
            (
                "duplicate CL",
                "POST \(base) HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: 0\r\nContent-Length: 0\r\n\r\n"
            ),
            (
                "conflicting CL",
                "POST \(base) HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: 0\r\nContent-Length: 5\r\n\r\n"
            ),
            (
                "chunked, identity",
                "POST \(base) HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
            ),
            ("obs-fold", "GET \(base) HTTP/1.1\r\nHost: x\r\n\(auth)X-A: 1\r\n folded\r\n\r\n"),
            ("bare LF", "GET \(base) HTTP/1.1\nHost: x\n\n"),
            ("NUL in header", "GET \(base) HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\(auth)\r\n"),
            ("control in header", "GET \(base) HTTP/1.1\r\nHost: x\r\nX-A: a\u{7}b\r\n\(auth)\r\n"),
            (
                "oversized chunk line",
                "POST \(base) HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: chunked\r\n\r\n1;"
                    + String(repeating: "e", count: 5000) + "\r\n"
            ),
            ("space in header name", "GET \(base) HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\(auth)\r\n"),
            ("HTTP/1.1 without Host", "GET \(base) HTTP/1.1\r\n\(auth)\r\n"),
            ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            ("TLS ClientHello", "\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{fc}\u{3}\u{3}\r\n\r\n"),
        ]
        for (name, request) in cases {
            let client = try RawClient(port: harness.gateway.port)
            client.send(request + hidden)
            let response = try client.readResponse()
            XCTAssertTrue([400, 505].contains(response.status), "\(name): \(response.status)")
            XCTAssertThrowsError(try client.readResponse(), "\(name): the hidden request must not be answered")
        }
        XCTAssertEqual(
            try harness.control.totalCount(), 0, "nothing the gateway did not parse itself reaches the upstream")

        // Well framed but aimed elsewhere: 400, and the connection stays usable.
        let proxy = try RawClient(port: harness.gateway.port)
        proxy.send("GET http://evil.example\(base) HTTP/1.1\r\nHost: evil.example\r\n\(auth)\r\n")
        XCTAssertEqual(try proxy.readResponse().status, 400)
        XCTAssertEqual(try harness.control.totalCount(), 0)

        // Handled per RFC 9112: chunk extensions and trailers are read and dropped; HTTP/1.0 needs no Host.
        let client = try RawClient(port: harness.gateway.port)
        client.send(
            "POST /v2/Flows/\(MockFixtures.flowA)/Executions HTTP/1.1\r\nHost: x\r\n\(auth)Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nTo=%2\r\n12\r\nB1555&From=%2B1666\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        XCTAssertEqual(try client.readResponse().status, 201)
        let old = try RawClient(port: harness.gateway.port)
        old.send("GET \(base) HTTP/1.0\r\n\(auth)\r\n")
        XCTAssertEqual(try old.readResponse().status, 200)
    }

    func testSlowlorisAndClientsThatNeverReadAreClosedWhileOthersAreServed() throws {
        harness = try GatewayHarness(["--header-timeout", "1", "--idle-timeout", "2"])
        let slow = try RawClient(port: harness.gateway.port)
        let started = Date()
        var closed = false
        for byte in "GET \(base) HTTP/1.1\r\nHost: x\r\n".utf8 {
            slow.send([byte])
            Thread.sleep(forTimeInterval: 0.1)
            if Date().timeIntervalSince(started) > 1.5 { break }
        }
        if let response = try? slow.readResponse() { closed = response.status == 408 }
        XCTAssertTrue(closed, "a byte-at-a-time head gets 408 after --header-timeout")

        // A client that asks for a lot and never reads: the gateway moves on.
        let greedy = try RawClient(port: harness.gateway.port)
        let many = String(
            repeating: "GET \(base)/Context HTTP/1.1\r\nHost: x\r\nAuthorization: \(GatewayHarness.authA)\r\n\r\n",
            count: 2000)
        DispatchQueue.global().async { greedy.send(many) }
        Thread.sleep(forTimeInterval: 0.5)
        let polite = try harness.get(base)
        XCTAssertEqual(polite.status, 200, "others are served while one client refuses to read")
        withExtendedLifetime(greedy) {}
    }

    func testFiveThousandIdleConnections() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        try XCTSkipIf(limit.rlim_max < 6000, "needs 6000 fds")
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        harness = try GatewayHarness()
        let idle = try (0..<5000).map { _ in try RawClient(port: harness.gateway.port) }
        XCTAssertEqual(try harness.get(base).status, 200)
        idle[4999].send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try idle[4999].readResponse().status, 200)
    }

    /// With `ulimit -n 256` the gateway sheds what it cannot hold, logs the cause once, and serves
    /// new clients again once idle ones time out.
    func testRunningOutOfFileDescriptors() throws {
        let mock = try RunningBinary("mock-studio", ["--listen", "127.0.0.1:0"])
        defer { mock.stop() }
        let binary = RunningBinary.productsDirectory.appendingPathComponent("studiogate").path
        let gateway = try RunningBinary(
            executable: URL(fileURLWithPath: "/bin/sh"),
            [
                "-c",
                "ulimit -n 256 && exec \(binary) --listen 127.0.0.1:0 --upstream http://127.0.0.1:\(mock.port) --threads 1 --idle-timeout 1",
            ])
        defer { gateway.stop() }
        var hogs: [RawClient] = []
        for _ in 0..<400 { if let client = try? RawClient(port: gateway.port) { hogs.append(client) } }
        Thread.sleep(forTimeInterval: 2.5)  // idle hogs are closed by the idle timeout
        hogs.removeAll()
        var status = 0
        let deadline = Date().addingTimeInterval(5)
        while status != 200 && Date() < deadline {
            status = (try? GatewayHarness.send(gateway.port, "GET", base, auth: GatewayHarness.authA).status) ?? 0
            if status != 200 { Thread.sleep(forTimeInterval: 0.1) }
        }
        XCTAssertEqual(status, 200, "new clients are served again once the abusers are gone")
        let logged = gateway.capturedOutput.components(separatedBy: "file descriptor limit reached").count - 1
        XCTAssertEqual(logged, 1, "the cause is logged once, not per event: \(gateway.capturedOutput)")
    }

    func testUpstreamFaultsGiveCleanErrorsAndNothingBadIsCached() throws {
        harness = try GatewayHarness(["--active-ttl", "0.3", "--stale-if-error", "0", "--upstream-timeout", "1"])
        // Connection-killing faults last: FoundationNetworking can report a pooled connection the
        // upstream dropped as a failure of the next call or two (retried, then 502).
        let faults: [(String, Int)] = [
            (#"{"delay_ms": 2500}"#, 504),
            (#"{"body": "{not json", "content_type": "application/json"}"#, 502),
            (#"{"body": "<html><body>Bad gateway</body></html>"}"#, 502),
            (#"{"truncate": true}"#, 502),
            (#"{"reset": true}"#, 502),
        ]
        for (fault, status) in faults {
            try harness.control.call("DELETE", "/__mock/faults")
            try harness.control.fault(fault)
            let response = try harness.get(active + "/Steps")
            XCTAssertEqual(response.status, status, fault)
            XCTAssertEqual(response.json?["status"] as? Int, status, "Twilio-style body for \(fault)")
            try harness.control.call("DELETE", "/__mock/faults")
            var clean = try harness.get(active + "/Steps")
            for _ in 0..<3 where clean.status != 200 { clean = try harness.get(active + "/Steps") }
            XCTAssertEqual(clean.status, 200, "nothing from \(fault) was cached")
            XCTAssertNotEqual(clean.header("X-Cache"), "HIT")
            XCTAssertNotNil(clean.json?["steps"], "a real Studio body, not the fault's")
            Thread.sleep(forTimeInterval: 0.35)
        }
        // Stale answers where policy allows it.
        harness.stop()
        harness = try GatewayHarness(["--active-ttl", "0.3", "--stale-if-error", "30"])
        XCTAssertEqual(try harness.get(active).status, 200)
        Thread.sleep(forTimeInterval: 0.4)
        try harness.control.fault(#"{"body": "<html>proxy error</html>"}"#)
        XCTAssertEqual(try harness.get(active).header("X-Cache"), "STALE")
    }

    func testNoConnectionsLeakAfterFaults() throws {
        harness = try GatewayHarness()
        let pid = harness.gateway.process.processIdentifier
        _ = try harness.get(base)
        let before = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        for fault in [#"{"reset": true, "times": 20}"#, #"{"truncate": true, "times": 20}"#] {
            try harness.control.fault(fault)
            for _ in 0..<20 { _ = try? harness.get(active + "/Steps") }
            try harness.control.call("DELETE", "/__mock/faults")
        }
        for _ in 0..<20 { _ = try harness.get(active + "/Context") }
        Thread.sleep(forTimeInterval: 0.5)
        let after = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        XCTAssertLessThanOrEqual(after, before + 8, "fds before \(before), after \(after)")
    }

    /// A write whose connection the upstream resets is answered 502 at once and reaches the
    /// upstream once: libcurl re-sends requests that die on a reused connection, without the body,
    /// which used to hang until the upstream answered 408 (or, with a rewind, would post twice).
    func testAWriteIsSentAtMostOnceWhenTheUpstreamResetsIt() throws {
        harness = try GatewayHarness()
        let port = harness.gateway.port
        for _ in 0..<3 {  // warm every pool a write could reuse
            XCTAssertEqual(try harness.get(active).status, 200)
            let created = try GatewayHarness.send(
                port, "POST", "/v2/Flows/\(MockFixtures.flowA)/Executions", auth: GatewayHarness.authA,
                body: "To=%2B15551230000&From=%2B15557650000")
            XCTAssertEqual(created.status, 201)
        }
        try harness.control.call("POST", "/__mock/reset")
        try harness.control.fault(#"{"path_prefix": "\#(active)", "method": "POST", "reset": true, "times": 3}"#)
        for _ in 0..<3 {
            let started = Date()
            let response = try GatewayHarness.send(
                port, "POST", active, auth: GatewayHarness.authA, body: "Status=ended")
            XCTAssertEqual(response.status, 502)
            XCTAssertEqual(response.json?["code"] as? Int, 20502)
            XCTAssertLessThan(Date().timeIntervalSince(started), 3, "answered at once, not after an upstream timeout")
        }
        XCTAssertEqual(try harness.control.count(active, method: "POST"), 3, "each write reached the upstream once")
    }

    /// An answer too big for one cache shard is served in full every time and never stored;
    /// entries of ordinary size keep being cached next to it.
    func testAnAnswerOverThePerEntryLimitIsServedButNotCached() throws {
        harness = try GatewayHarness(["--cache-size", "64K"])
        try harness.control.call(
            "POST", "/__mock/seed", body: #"{"count": 1, "context_bytes": 8000000, "status": "ended"}"#)
        let huge = "/v2/Flows/\(MockFixtures.flowA)/Executions/FN00000000000000000000000000100000/Context"
        for _ in 0..<2 {
            let response = try harness.get(huge)
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.header("X-Cache"), "MISS")
            XCTAssertGreaterThan(response.body.count, 8_000_000 - 100)
            XCTAssertNotNil(response.json?["context"], "the whole body arrived intact")
        }
        XCTAssertEqual(try harness.control.count(huge), 2)
        XCTAssertEqual(try harness.get(base).header("X-Cache"), "MISS")
        XCTAssertEqual(try harness.get(base).header("X-Cache"), "HIT")
    }

    /// An upstream that sends a 200 head and then one byte every 200 ms: the call ends at the
    /// upstream timeout with a Twilio-style 504, the partial body is never cached, and the
    /// gateway keeps serving.
    func testATricklingUpstreamEndsAtTheTimeoutAndIsNotCached() throws {
        let trickle = try TrickleUpstream()
        defer { trickle.stop() }
        let gateway = try RunningBinary(
            "studiogate",
            [
                "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(trickle.port)",
                "--upstream-timeout", "2",
            ])
        defer { gateway.stop() }
        for attempt in 1...2 {
            let started = Date()
            let response = try GatewayHarness.send(gateway.port, "GET", base, auth: GatewayHarness.authA)
            let seconds = Date().timeIntervalSince(started)
            XCTAssertEqual(response.status, 504)
            XCTAssertEqual(response.json?["status"] as? Int, 504)
            XCTAssertLessThan(seconds, 5, "bounded by the 2 s budget (rounded up), not by the trickle")
            XCTAssertEqual(
                trickle.connections.withLock { $0 }, attempt, "nothing was cached: each request went upstream")
        }
        XCTAssertEqual(try GatewayHarness.send(gateway.port, "GET", "/healthz", auth: nil).status, 200)
    }
}

/// A one-connection-at-a-time upstream that answers every request with a 200 head announcing a
/// large JSON body and then trickles it a byte every 200 ms (for at most 20 s).
final class TrickleUpstream: @unchecked Sendable {
    let port: UInt16
    let connections = Locked(0)
    private let fd: Int32
    private let stopped = Atomic<Bool>(false)

    init() throws {
        (fd, port) = LoopbackPort.bind(listening: true)
        guard port != 0 else { throw NSError(domain: "TrickleUpstream", code: Int(errno)) }
        Thread.detachNewThread { [self] in serve() }
    }

    private func serve() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            connections.withLock { $0 += 1 }
            Thread.detachNewThread { [self] in
                defer { close(client) }
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = read(client, &buffer, buffer.count)
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
                guard send(client, head, head.utf8.count, Int32(MSG_NOSIGNAL)) > 0 else { return }
                for _ in 0..<100 where !stopped.load(ordering: .relaxed) {
                    usleep(200_000)
                    guard send(client, " ", 1, Int32(MSG_NOSIGNAL)) == 1 else { return }
                }
            }
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
