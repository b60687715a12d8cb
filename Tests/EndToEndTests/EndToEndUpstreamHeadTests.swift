import Foundation
import Glibc
import Locking
import MockStudio
import Synchronization
import XCTest

@testable import TestSupport

/// Issue 27's header rule through the real path: a real HTTP upstream (raw bytes on a socket)
/// sends a `Twilio-Request-Id` of `RQ\xff\xfe\x01x` and a control byte in `Content-Type`; the real
/// gateway (libcurl's header callback, `UpstreamFieldRule`) passes neither on, mangled or not,
/// and counts both in /metrics.
final class EndToEndUpstreamHeadTests: XCTestCase {
    var upstream: RawHeadUpstream?
    var gateway: RunningBinary?

    override func tearDown() {
        gateway?.stop()
        upstream?.stop()
    }

    func testBadHeaderValuesFromTheUpstreamReachTheClientAsAbsentAndAreCounted() throws {
        let body = #"{"flows": [], "meta": {"key": "flows", "page": 0, "page_size": 50}}"#
        let head: [UInt8] =
            Array("HTTP/1.1 200 OK\r\nTwilio-Request-Id: RQ".utf8) + [0xFF, 0xFE, 0x01] + Array("x\r\n".utf8)
            + Array(
                "Content-Type: application/json\u{01}; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n".utf8)
            + Array("Connection: close\r\n\r\n".utf8)
        let upstream = try RawHeadUpstream(answer: head + Array(body.utf8))
        self.upstream = upstream
        let gateway = try RunningBinary(
            "studiogate",
            ["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(upstream.port)", "--threads", "1"])
        self.gateway = gateway

        let auth = RawClient.basicAuth(MockFixtures.accountA, MockFixtures.tokenA)
        let answer = try GatewayHarness.send(gateway.port, "GET", "/v2/Flows", auth: auth)
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.text.hasSuffix(body), true, answer.text)
        XCTAssertNil(answer.header("Twilio-Request-Id"), "dropped, never sent as RQ\\u{FFFD}\\u{FFFD}\\u{01}x")
        let contentType = answer.header("Content-Type") ?? ""
        XCTAssertFalse(contentType.contains("\u{01}"), contentType)
        XCTAssertFalse(contentType.contains("\u{FFFD}"), contentType)
        XCTAssertGreaterThan(upstream.requests.load(ordering: .relaxed), 0)

        let metrics = try GatewayHarness.send(gateway.port, "GET", "/metrics", auth: nil).text
        let line = metrics.split(separator: "\n").first {
            $0.hasPrefix("studiogate_upstream_header_values_dropped_total ")
        }
        XCTAssertEqual(line.map(String.init), "studiogate_upstream_header_values_dropped_total 2", metrics)
    }
}

/// An upstream that answers every connection's first request with the same raw bytes, then
/// closes it.
final class RawHeadUpstream: @unchecked Sendable {
    let port: UInt16
    let requests = Atomic<Int>(0)
    private let fd: Int32
    private let answer: [UInt8]
    private let stopped = Atomic<Bool>(false)

    init(answer: [UInt8]) throws {
        self.answer = answer
        (fd, port) = LoopbackPort.bind(listening: true)
        guard port != 0 else { throw NSError(domain: "RawHeadUpstream", code: Int(errno)) }
        Thread.detachNewThread { [self] in serve() }
    }

    private func serve() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            Thread.detachNewThread { [self] in
                defer { close(client) }
                // Reads up to the end of the request's head, then answers.
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !received.suffix(4).elementsEqual([13, 10, 13, 10]) {
                    let count = read(client, &buffer, buffer.count)
                    guard count > 0 else { return }
                    received += buffer[0..<count]
                }
                requests.wrappingAdd(1, ordering: .relaxed)
                _ = answer.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
