import EventLoop
import Foundation
import Glibc
import HTTP
import HTTPServer
import Locking
import XCTest

@testable import TestSupport

/// Answers with what it received; `/slow/N` answers after N ms from another thread,
/// `/reset` resets the connection.
struct EchoHandler: HTTPHandler {
    /// `/big/N`'s body: N bytes that differ from their neighbours, so a lost or repeated piece shows.
    static func pattern(_ size: Int) -> [UInt8] {
        let cycle = (0..<251).map { UInt8($0) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        while bytes.count < size { bytes.append(contentsOf: cycle.prefix(size - bytes.count)) }
        return bytes
    }

    func handle(_ request: HTTPRequest, responder: Responder) {
        let body =
            "\(request.method) \(request.target) \(request.body.count) \(String(decoding: request.body, as: UTF8.self))"
        let response = HTTPResponse(status: 200, headers: ["Content-Type": "text/plain"], text: body)
        if request.target.hasPrefix("/big/"), let size = Int(request.target.dropFirst(5)) {
            responder.respond(HTTPResponse(status: 200, body: EchoHandler.pattern(size)))
        } else if request.target == "/reset" {
            responder.reply(.resetConnection)
        } else if request.target.hasPrefix("/slow/"), let ms = Int(request.target.dropFirst(6)) {
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(ms)) { responder.respond(response) }
        } else {
            responder.respond(response)
        }
    }
}

/// Answers every request with `bodySize` bytes and counts what it answered.
struct CountingHandler: HTTPHandler {
    let answered = Locked(0)
    let bodySize: Int

    func handle(_ request: HTTPRequest, responder: Responder) {
        answered.withLock { $0 += 1 }
        responder.respond(HTTPResponse(status: 200, body: [UInt8](repeating: UInt8(ascii: "m"), count: bodySize)))
    }
}

final class HTTPServerTests: XCTestCase {
    var server: HTTPServer!
    var port: UInt16 { server.localAddress.port }

    func start(_ adjust: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        var configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0"), threads: 2)
        adjust(&configuration)
        server = try HTTPServer(configuration: configuration, handler: EchoHandler())
    }

    override func tearDown() {
        server?.stop()
        server = nil
    }

    func testKeepAliveServesManyRequestsOnOneConnection() throws {
        try start()
        let client = try RawClient(port: port)
        for index in 0..<5 {
            client.send("GET /n/\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.text, "GET /n/\(index) 0 ")
            XCTAssertNotNil(response.header("Date"))
        }
    }

    func testPipelinedRequestsAreAnsweredInOrderEvenWhenTheFirstIsSlow() throws {
        try start()
        let client = try RawClient(port: port)
        client.send(
            "GET /slow/300 HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\nPOST /slow/50 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /last HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        XCTAssertEqual(try client.readResponse().text, "GET /slow/300 0 ")
        XCTAssertEqual(try client.readResponse().text, "GET /fast 0 ")
        XCTAssertEqual(try client.readResponse().text, "POST /slow/50 2 hi")
        XCTAssertEqual(try client.readResponse().text, "GET /last 0 ")
    }

    /// Bodies far larger than the socket buffer go out by gather writes in many pieces; pipelined
    /// requests (one sending a 100 Continue) queue behind them in order, byte for byte.
    func testLargeBodiesAndPipelinedRequestsArriveWholeAndInOrder() throws {
        try start()
        let client = try RawClient(port: port)
        client.send(
            "GET /big/20000000 HTTP/1.1\r\nHost: x\r\n\r\n"
                + "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
                + "GET /big/70001 HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(200_000)  // let the server fill the socket and queue everything behind the first body
        let first = try client.readResponse()
        XCTAssertEqual(first.body, EchoHandler.pattern(20_000_000))
        XCTAssertEqual(try client.readResponse().status, 100)
        XCTAssertEqual(try client.readResponse().text, "POST /echo 2 hi")
        XCTAssertEqual(try client.readResponse().body, EchoHandler.pattern(70001))
        XCTAssertEqual(try client.readResponse().text, "GET /fast 0 ")
    }

    func testChunkedBodyAndExpectContinue() throws {
        try start()
        let client = try RawClient(port: port)
        client.send(
            "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
        )
        XCTAssertEqual(try client.readResponse().text, "POST /c 5 abcde")
        client.send("POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 100)
        client.send("body")
        XCTAssertEqual(try client.readResponse().text, "POST /e 4 body")
    }

    func testHeadGetsNoBodyAndConnectionCloseIsHonoured() throws {
        try start()
        let client = try RawClient(port: port)
        client.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let head = try client.readResponse(headRequest: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, [])
        let last = try client.readResponse()
        XCTAssertEqual(last.header("Connection"), "close")
        XCTAssertTrue(client.isClosedByPeer())
    }

    func testHTTP10ClosesAfterTheResponse() throws {
        try start()
        let client = try RawClient(port: port)
        client.send("GET /old HTTP/1.0\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertTrue(client.isClosedByPeer())
    }

    /// Issue 18 #8: an HTTP/1.0 client keeps the connection only if the answer says
    /// `Connection: keep-alive` (RFC 9112 §9.3); HTTP/1.1 answers need no such header.
    func testHTTP10KeepAliveIsAnnouncedAndHonoured() throws {
        try start()
        let client = try RawClient(port: port)
        for index in 0..<2 {
            client.send("GET /old/\(index) HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.text, "GET /old/\(index) 0 ")
            XCTAssertEqual(response.header("Connection"), "keep-alive")
        }
        client.send("GET /last HTTP/1.0\r\n\r\n")
        XCTAssertEqual(try client.readResponse().header("Connection"), "close")
        XCTAssertTrue(client.isClosedByPeer())
        let modern = try RawClient(port: port)
        modern.send("GET /new HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertNil(try modern.readResponse().header("Connection"))
    }

    func testBadRequestsGetTheirStatusThenCloseAndTheServerKeepsServing() throws {
        try start { $0.limits.maxBodyBytes = 100 }
        let cases: [(String, Int)] = [
            ("GARBAGE\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
            ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            (
                "GET / HTTP/1.1\r\nHost: x\r\n"
                    + String(repeating: "X-Filler: " + String(repeating: "f", count: 1000) + "\r\n", count: 70)
                    + "\r\n", 431
            ),
            ("GET / HTTP/1.1\r\nHost: x\r\n" + (0..<101).map { "X-\($0): 1\r\n" }.joined() + "\r\n", 431),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413),
            ("\u{16}\u{03}\u{01}\u{00}\u{a5}\u{01}\u{00}\u{00}\u{a1}\u{03}\u{03}\r\n\r\n", 400),
        ]
        for (request, status) in cases {
            let client = try RawClient(port: port)
            // A request smuggled behind the bad one must never be answered.
            client.send(request + "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, status, String(request.prefix(60)))
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertThrowsError(try client.readResponse(), "nothing after an unreadable request")
        }
        let healthy = try RawClient(port: port)
        healthy.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try healthy.readResponse().status, 200)
    }

    func testClientsThatVanishMidRequestDoNotDisturbOthers() throws {
        try start()
        for partial in [
            "GET /half HTTP/1.1\r\nHo", "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-some",
            "GET /slow/200 HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            let client = try RawClient(port: port)
            client.send(partial)
        }  // closed by deinit mid-request
        Thread.sleep(forTimeInterval: 0.3)
        let client = try RawClient(port: port)
        client.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readResponse().text, "GET /after 0 ")
    }

    func testSlowHeadersGet408AndIdleConnectionsAreClosed() throws {
        try start {
            $0.headerTimeout = 0.5
            $0.idleTimeout = 0.8
        }
        let slow = try RawClient(port: port)
        slow.send("GET /slow HTTP/1.1\r\nHost")
        let started = Date()
        XCTAssertEqual(try slow.readResponse().status, 408)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        let idle = try RawClient(port: port)
        XCTAssertTrue(idle.isClosedByPeer(), "idle connection must be closed after the idle timeout")
    }

    /// Issue 18 #3: a keep-alive connection that only sends empty lines is still idle: it is closed
    /// at the idle timeout (the lines do not reset the timer), and too many of them are a 400.
    func testEmptyLinesDoNotKeepAnIdleConnectionOpen() throws {
        try start { $0.idleTimeout = 0.8 }
        let client = try RawClient(port: port)
        client.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        let started = Date()
        var closed = false
        // One empty line every 0.2 s: four before the idle timeout, fewer than the bound.
        while !closed && Date().timeIntervalSince(started) < 5 {
            client.send("\r\n")
            var poller = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 200) > 0 { closed = client.isClosedByPeer() }
        }
        XCTAssertTrue(closed, "a connection sending only empty lines must be closed at the idle timeout")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2.5)

        let flood = try RawClient(port: port)
        flood.send(String(repeating: "\r\n", count: 1000) + "GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try flood.readResponse().status, 400)
        XCTAssertTrue(flood.isClosedByPeer())
    }

    /// Issue 18 #1: a client pipelining requests it never reads the answers to. The server stops
    /// taking requests (and reading) while its unsent output is over the cap, so what it answers
    /// is bounded by the cap plus the kernel's socket buffers, not by what the client sends; when
    /// the client reads, it resumes and every answer arrives, in order.
    func testPipeliningClientThatNeverReadsGetsBoundedOutput() throws {
        let bodySize = 4096
        let handler = CountingHandler(bodySize: bodySize)
        var configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0"), threads: 1)
        configuration.idleTimeout = 30
        server = try HTTPServer(configuration: configuration, handler: handler)
        let client = try RawClient(port: port)
        var small: Int32 = 64 * 1024
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(client.fd, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))  // so a stall shows
        var oneSecond = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(client.fd, SOL_SOCKET, SO_SNDTIMEO, &oneSecond, socklen_t(MemoryLayout<timeval>.size))

        // 200 requests per write, as in the report; 20,000 in all (unbounded: 80 MiB of answers).
        let batch = Array(String(repeating: "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", count: 200).utf8)
        var sent = 0
        var stalled = false
        sending: for _ in 0..<100 {
            var offset = 0
            while offset < batch.count {
                let n = batch[offset...].withUnsafeBytes {
                    Glibc.send(client.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if n <= 0 {  // nothing accepted for a second: the server stopped reading
                    stalled = true
                    sent += offset
                    break sending
                }
                offset += n
            }
            sent += batch.count
        }
        let requestSize = batch.count / 200
        XCTAssertTrue(stalled, "the server kept reading requests whose answers were never read")
        // Once the client's writes stall, the server has stopped and what it answered is final; if
        // they did not (the bug), wait for the server to finish what it took.
        var answered = handler.answered.withLock { $0 }
        var steady = 0
        while steady < 5 && answered < sent / requestSize {
            Thread.sleep(forTimeInterval: 0.1)
            let now = handler.answered.withLock { $0 }
            steady = now == answered ? steady + 1 : 0
            answered = now
        }
        // Answers can only be in the server's output (the cap), its socket's send buffer (at most
        // tcp_wmem's maximum) or the client's receive buffer (fixed by SO_RCVBUF above).
        var receiveBuffer: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, &length)
        let bound = 256 * 1024 + Self.socketBufferMax("tcp_wmem") + Int(receiveBuffer) + 2 * (bodySize + 200)
        XCTAssertLessThanOrEqual(
            answered * (bodySize + 100), bound,
            "\(answered) answers (\(answered * bodySize) bytes) queued for a client that reads nothing")

        print(
            "pipelining: sent \(sent / requestSize) requests, stalled \(stalled), \(answered) answered before the client read"
        )
        // Reading resumes the server: every request sent is answered, in order.
        let expected = sent / requestSize
        for index in 0..<expected {
            guard let response = try? client.readResponse() else {
                return XCTFail("answer \(index) of \(expected) missing")
            }
            if response.body.count != bodySize { return XCTFail("answer \(index): \(response.body.count) bytes") }
        }
        XCTAssertEqual(handler.answered.withLock { $0 }, expected)
    }

    /// The largest size the kernel lets a TCP socket buffer grow to (`net.ipv4.tcp_wmem`'s third field).
    static func socketBufferMax(_ name: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/\(name)", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }.last ?? 16
            * 1024 * 1024
    }

    func testHandlerCanResetTheConnection() throws {
        try start()
        let client = try RawClient(port: port)
        client.send("GET /reset HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertThrowsError(try client.readResponse())
    }

    func testThousandIdleConnectionsDoNotBlockNewClients() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        try XCTSkipIf(limit.rlim_cur < 2200, "needs 2200 fds, have \(limit.rlim_cur)")
        try start()
        let idle = try (0..<1000).map { _ in try RawClient(port: port) }
        let client = try RawClient(port: port)
        client.send("GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        // The idle ones are still usable.
        idle[999].send("GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try idle[999].readResponse().text, "GET /late 0 ")
    }

    func testConcurrentClientsAcrossLoops() throws {
        try start()
        let port = self.port
        let failures = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 16) { worker in
            do {
                let client = try RawClient(port: port)
                for index in 0..<50 {
                    client.send("GET /w\(worker)/\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
                    if try client.readResponse().text != "GET /w\(worker)/\(index) 0 " { failures.withLock { $0 += 1 } }
                }
            } catch {
                failures.withLock { $0 += 1 }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, 0)
    }
}
