import Foundation
import Glibc
import MockStudio
import XCTest

@testable import TestSupport

/// Issue 18 #1 and #3 against the real binary: a client that pipelines and never reads, and
/// keep-alive connections that only send empty lines.
final class EndToEndClientAbuseTests: XCTestCase {
    var harness: GatewayHarness!

    override func tearDown() { harness?.stop() }

    /// The report: `GET /metrics` 200 times per write, repeatedly, never reading, grew the gateway
    /// from 32 MB to 566 MB in 8 s. Now the gateway stops reading that connection once its answers
    /// back up, its memory stays put, and everyone else is served.
    func testPipeliningWithoutReadingDoesNotGrowTheGateway() throws {
        harness = try GatewayHarness(["--idle-timeout", "30"])
        XCTAssertEqual(try harness.get("/metrics", auth: nil).status, 200)
        let before = try harness.gateway.residentKiB() * 1024
        let greedy = try RawClient(port: harness.gateway.port)
        var small: Int32 = 64 * 1024
        setsockopt(greedy.fd, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var oneSecond = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(greedy.fd, SOL_SOCKET, SO_SNDTIMEO, &oneSecond, socklen_t(MemoryLayout<timeval>.size))
        let batch = Array(String(repeating: "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", count: 200).utf8)
        var stalled = false
        sending: for _ in 0..<500 {  // up to 100,000 requests
            var offset = 0
            while offset < batch.count {
                let n = batch[offset...].withUnsafeBytes {
                    Glibc.send(greedy.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if n <= 0 {
                    stalled = true
                    break sending
                }
                offset += n
            }
        }
        XCTAssertTrue(stalled, "the gateway kept reading a connection whose answers were never read")
        let grown = try harness.gateway.residentKiB() * 1024 - before
        print(
            "pipelining end to end: stalled \(stalled), resident memory \(before / 1024 / 1024) MiB -> +\(grown / 1024 / 1024) MiB"
        )
        if ProcessInfo.processInfo.environment["STUDIOGATE_SANITIZER"] == nil {  // ASan's shadow memory is not ours
            XCTAssertLessThan(
                grown, 48 * 1024 * 1024,
                "resident memory grew \(grown / 1024 / 1024) MiB for one client that reads nothing")
        }
        XCTAssertEqual(try harness.get("/healthz", auth: nil).status, 200, "others are served meanwhile")
        // Reading drains it: answers keep coming.
        for _ in 0..<1000 { XCTAssertEqual(try greedy.readResponse().status, 200) }
    }

    /// The report: `--idle-timeout 3`, 20 connections sending `\r\n` once a second, none closed
    /// after 9 s. Now they close at the idle timeout, and a flood of empty lines is a 400.
    func testConnectionsSendingOnlyEmptyLinesAreClosedAtTheIdleTimeout() throws {
        harness = try GatewayHarness(["--idle-timeout", "1"])
        let clients = try (0..<10).map { _ in try RawClient(port: harness.gateway.port) }
        let started = Date()
        var open = Set(clients.indices)
        while !open.isEmpty && Date().timeIntervalSince(started) < 6 {
            for index in open {
                clients[index].send("\r\n")
                var poller = pollfd(fd: clients[index].fd, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, 0) > 0, clients[index].isClosedByPeer() { open.remove(index) }
            }
            Thread.sleep(forTimeInterval: 0.3)
        }
        XCTAssertEqual(
            open.count, 0,
            "connections sending only empty lines still open after \(Date().timeIntervalSince(started)) s")
        XCTAssertLessThan(Date().timeIntervalSince(started), 3.5)

        let flood = try RawClient(port: harness.gateway.port)
        flood.send(String(repeating: "\r\n", count: 100) + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try flood.readResponse().status, 400)
        XCTAssertTrue(flood.isClosedByPeer())
    }
}
