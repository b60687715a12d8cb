import Compression
import HTTP
import HTTPServer
import Locking
import MockStudio
import XCTest

@testable import EventLoop
@testable import TestSupport
@testable import Upstream

/// The libcurl engine in process: a loop of our own drives curl against an in-process mock
/// Studio (which answers like Twilio: 401 with a Basic challenge, gzip when asked).
final class UpstreamEngineTests: XCTestCase {
    var group: EventLoopGroup!
    var loop: EventLoop { group.loops[0] }
    var mock: HTTPServer!
    var mockConnections: ConnectionGauge!

    override func setUpWithError() throws {
        group = try EventLoopGroup(threads: 1)
        var configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: "127.0.0.1:0"), threads: 1)
        mockConnections = ConnectionGauge()
        configuration.connections = mockConnections
        mock = try HTTPServer(configuration: configuration, handler: MockStudio(connections: mockConnections))
    }

    override func tearDown() {
        mock?.stop()
        group?.shutdown()
    }

    var mockURL: String { "http://\(mock.localAddress)" }
    let auth = RawClient.basicAuth(MockFixtures.accountA, MockFixtures.tokenA)
    var executionPath: String { "/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA)" }

    /// Sends through `service` on the loop and waits for the answer.
    func call(
        _ service: UpstreamService, _ request: UpstreamRequest, idempotent: Bool = true,
        timeout: Double? = nil
    ) -> Result<UpstreamResponse, UpstreamFailure> {
        let answer = Locked<Result<UpstreamResponse, UpstreamFailure>?>(nil)
        let done = expectation(description: "answered")
        let loop = self.loop
        loop.execute {
            service.send(request, idempotent: idempotent, on: loop, timeout: timeout) { result in
                answer.withLock { $0 = result }
                done.fulfill()
            }
        }
        wait(for: [done], timeout: 10)
        return answer.withLock { $0 }!
    }

    func service(
        _ url: String? = nil, concurrency: Int = 8, timeout: Double = 5,
        configure: (inout UpstreamClient.Options) -> Void = { _ in }
    ) -> UpstreamService {
        var options = UpstreamClient.Options()
        options.timeout = timeout
        configure(&options)
        return UpstreamService(
            client: UpstreamClient(baseURL: url ?? mockURL, options: options), maxConcurrency: concurrency,
            threads: 1, queueTimeout: 0.3, timeout: timeout, baseBackoff: 0.01)
    }

    func get(_ path: String, auth: String? = nil) -> UpstreamRequest {
        var headers = HTTPHeaders()
        if let auth { headers.add("Authorization", auth) }
        return UpstreamRequest(method: "GET", pathAndQuery: path, headers: headers)
    }

    func testA401ComesBackAtOnceWithItsChallengeAndBody() throws {
        let upstream = service()
        let started = Date()
        let result = call(upstream, get(executionPath, auth: RawClient.basicAuth(MockFixtures.accountA, "wrong")))
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
        let answer = try result.get()
        XCTAssertEqual(answer.status, 401)
        XCTAssertEqual(answer.headers["WWW-Authenticate"], #"Basic realm="Twilio API""#)
        XCTAssertTrue(String(decoding: answer.body, as: UTF8.self).contains("20003"))
    }

    func testGzipAnswersAreInflatedAndConnectionsReused() throws {
        let upstream = service()
        for _ in 0..<20 {
            let answer = try call(upstream, get(executionPath, auth: auth)).get()
            XCTAssertEqual(answer.status, 200)
            XCTAssertNil(answer.headers["Content-Encoding"])
            let object = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
            XCTAssertEqual(object?["sid"] as? String, MockFixtures.endedExecutionA)
        }
        XCTAssertEqual(mockConnections.accepted, 1, "twenty sequential calls ride one keep-alive connection")
        XCTAssertEqual(upstream.client.stats.connectionsOpened.load(ordering: .relaxed), 1)
        XCTAssertEqual(upstream.client.stats.connectionsReused.load(ordering: .relaxed), 19)
        XCTAssertEqual(upstream.client.stats.http1Calls.load(ordering: .relaxed), 20)
        let forwarded = try MockControl(port: mock.localAddress.port).lastRequestHeaders()
        XCTAssertEqual(forwarded["accept-encoding"], "gzip", "only gzip is asked for")
        XCTAssertNil(forwarded["expect"])
    }

    func testACompressionBombIsRefusedNotInflated() throws {
        try MockControl(port: mock.localAddress.port).fault(#"{"path_prefix": "/v2", "gzip_bomb_bytes": 50000000}"#)
        let upstream = service { $0.maxBodyBytes = 1 << 20 }
        XCTAssertEqual(call(upstream, get(executionPath, auth: auth)).failure, .bodyTooLarge(limit: 1 << 20))
    }

    func testABodyOverTheLimitIsRefused() throws {
        let big = String(repeating: "x", count: 300_000)
        try MockControl(port: mock.localAddress.port).fault(
            #"{"path_prefix": "/v2", "body": "{\"pad\": \"\#(big)\"}", "content_type": "application/json"}"#)
        let upstream = service { $0.maxBodyBytes = 100_000 }
        XCTAssertEqual(call(upstream, get(executionPath, auth: auth)).failure, .bodyTooLarge(limit: 100_000))
    }

    func testTheDeadlineIsMillisecondsAndCountsTrickles() throws {
        try MockControl(port: mock.localAddress.port).fault(#"{"path_prefix": "/v2", "delay_ms": 3000}"#)
        let upstream = service(timeout: 0.3)
        let started = Date()
        XCTAssertEqual(call(upstream, get(executionPath, auth: auth)).failure, .timeout)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 0.25)
        XCTAssertLessThan(elapsed, 1.0, "a 300 ms budget is not rounded up to a second")
    }

    func testNothingListeningIsUnreachableAndRetriedWithinTheBudget() throws {
        let upstream = service("http://127.0.0.1:1", timeout: 1)
        guard case .failure(.unreachable) = call(upstream, get("/v2/Flows", auth: auth)) else { return XCTFail() }
    }

    func testAWriteOnAConnectionThatDiesIsNeverSentTwice() throws {
        let control = MockControl(port: mock.localAddress.port)
        let upstream = service()
        let path = "/v2/Flows/\(MockFixtures.flowA)/Executions"
        var form = HTTPHeaders()
        form.add("Authorization", auth)
        form.add("Content-Type", "application/x-www-form-urlencoded")
        let create = UpstreamRequest(
            method: "POST", pathAndQuery: path, headers: form, body: Array("To=%2B15551230000&From=%2B15557650000".utf8)
        )
        XCTAssertEqual(try call(upstream, create, idempotent: false).get().status, 201)  // opens the connection
        try control.fault(#"{"path_prefix": "\#(path)", "method": "POST", "reset": true, "times": 1}"#)
        guard case .failure(.unreachable(let why)) = call(upstream, create, idempotent: false) else {
            return XCTFail("a reset write must fail")
        }
        XCTAssertTrue(why.contains("not sent again"), why)
        XCTAssertEqual(
            try control.count(path, method: "POST"), 2, "the reset write reached the upstream once, and was not re-sent"
        )
        XCTAssertEqual(upstream.client.stats.writesNotResent.load(ordering: .relaxed), 1)
        XCTAssertEqual(try call(upstream, create, idempotent: false).get().status, 201)
        XCTAssertEqual(try control.count(path, method: "POST"), 3)
    }

    func testAGetOnAConnectionThatDiesIsRetried() throws {
        let control = MockControl(port: mock.localAddress.port)
        let upstream = service()
        XCTAssertEqual(try call(upstream, get(executionPath, auth: auth)).get().status, 200)
        try control.fault(#"{"path_prefix": "\#(executionPath)", "reset": true, "times": 1}"#)
        XCTAssertEqual(try call(upstream, get(executionPath, auth: auth)).get().status, 200)
    }

    func testCancelStopsTheCallAndAnswersCancelled() throws {
        try MockControl(port: mock.localAddress.port).fault(#"{"path_prefix": "/v2", "delay_ms": 3000}"#)
        let upstream = service()
        let answer = Locked<Result<UpstreamResponse, UpstreamFailure>?>(nil)
        let done = expectation(description: "cancelled")
        let started = Date()
        let (loop, request) = (self.loop, get(executionPath, auth: auth))
        loop.execute {
            let call = upstream.send(request, idempotent: true, on: loop) { result in
                answer.withLock { $0 = result }
                done.fulfill()
            }
            loop.schedule(after: 100_000_000) { call.cancel() }
        }
        wait(for: [done], timeout: 5)
        XCTAssertEqual(answer.withLock { $0 }?.failure, .cancelled)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
        XCTAssertEqual(upstream.inFlight, 0)
    }

    func testCallsBeyondTheLoopsSlotsQueueThenGet503() throws {
        try MockControl(port: mock.localAddress.port).fault(#"{"path_prefix": "/v2", "delay_ms": 1000}"#)
        let upstream = service(concurrency: 2)
        let results = Locked<[Result<UpstreamResponse, UpstreamFailure>]>([])
        let done = expectation(description: "all answered")
        done.expectedFulfillmentCount = 3
        let (loop, request) = (self.loop, get(executionPath, auth: auth))
        loop.execute {
            for _ in 0..<3 {
                upstream.send(request, idempotent: true, on: loop) { result in
                    results.withLock { $0.append(result) }
                    done.fulfill()
                }
            }
        }
        wait(for: [done], timeout: 5)
        let answers = results.withLock { $0 }
        XCTAssertEqual(answers.first?.failure, .overloaded, "the third waits 0.3 s for a slot, then is told so")
        XCTAssertEqual(answers.filter { (try? $0.get().status) == 200 }.count, 2)
    }

    /// Guessed passwords get a quarter of the slots, two per credential; verified callers the rest.
    func testUnverifiedCallersCannotTakeTheSlotsOfVerifiedOnes() throws {
        try MockControl(port: mock.localAddress.port).fault(#"{"path_prefix": "/v2", "delay_ms": 400}"#)
        let upstream = service(concurrency: 8)
        let started = Locked<[String]>([])
        let done = expectation(description: "all answered")
        done.expectedFulfillmentCount = 6
        let (loop, request) = (self.loop, get(executionPath, auth: auth))
        loop.execute {
            for (name, admission) in [
                ("guess-1", Admission.unverified(credential: 1)), ("guess-2", .unverified(credential: 2)),
                ("guess-3", .unverified(credential: 3)), ("same-1a", .unverified(credential: 4)),
                ("verified", .verified), ("verified-2", .verified),
            ] {
                upstream.send(request, idempotent: true, admission: admission, on: loop) { _ in done.fulfill() }
                started.withLock { $0.append("\(name):\(upstream.inFlight)") }
            }
        }
        wait(for: [done], timeout: 5)
        // In flight after each send: two guesses start, the other two wait; both verified start at once.
        XCTAssertEqual(
            started.withLock { $0 }, ["guess-1:1", "guess-2:2", "guess-3:2", "same-1a:2", "verified:3", "verified-2:4"])
    }

    /// `--upstream-concurrency` is the process's total: two loops sharing two slots send one call
    /// each at a time, and the others wait their turn (never two per loop).
    func testTwoLoopsShareTheTotalSlotsRatherThanTakeItEach() throws {
        try MockControl(port: mock.localAddress.port).fault(#"{"path_prefix": "/v2", "delay_ms": 300}"#)
        let loops = try EventLoopGroup(threads: 2)
        defer { loops.shutdown() }
        let upstream = UpstreamService(
            client: UpstreamClient(baseURL: mockURL), maxConcurrency: 2, threads: 2, queueTimeout: 5, timeout: 5)
        let mostInFlight = Locked(0)
        let statuses = Locked<[Int]>([])
        let sent = expectation(description: "all sent")
        sent.expectedFulfillmentCount = 2
        let done = expectation(description: "all answered")
        done.expectedFulfillmentCount = 6
        let request = get(executionPath, auth: auth)
        for loop in loops.loops {
            loop.execute {
                for _ in 0..<3 {
                    upstream.send(request, idempotent: true, on: loop) { result in
                        statuses.withLock { $0.append((try? result.get().status.code) ?? 0) }
                        mostInFlight.withLock { $0 = max($0, upstream.inFlight) }
                        done.fulfill()
                    }
                    mostInFlight.withLock { $0 = max($0, upstream.inFlight) }
                }
                sent.fulfill()
            }
        }
        wait(for: [sent], timeout: 5)
        XCTAssertEqual(upstream.inFlight, 2, "one per loop while the first answers are 300 ms away")
        wait(for: [done], timeout: 10)
        XCTAssertEqual(statuses.withLock { $0 }, Array(repeating: 200, count: 6), "the waiters got their turn")
        XCTAssertEqual(mostInFlight.withLock { $0 }, 2)
        XCTAssertEqual(upstream.inFlight, 0)
    }

    func testLoopTimersRunInDeadlineOrderAndCanBeCancelled() {
        var timers = LoopTimers()
        var ran: [Int] = []
        _ = timers.add(deadline: 30) { ran.append(3) }
        let cancelled = timers.add(deadline: 10) { ran.append(1) }
        _ = timers.add(deadline: 20) { ran.append(2) }
        timers.remove(cancelled)
        XCTAssertEqual(
            timers.millisecondsUntilNext(now: 0, atMost: 250), 1, "20 ns away rounds up to a whole millisecond")
        XCTAssertEqual(LoopTimers().millisecondsUntilNext(now: 0, atMost: 250), 250)
        while let task = timers.popDue(now: 25) { task() }
        XCTAssertEqual(ran, [2])
        while let task = timers.popDue(now: 30) { task() }
        XCTAssertEqual(ran, [2, 3])
        XCTAssertEqual(timers.count, 0)
    }
}
