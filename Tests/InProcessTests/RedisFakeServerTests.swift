import EventLoop
import Foundation
import Locking
import XCTest

@testable import Redis
@testable import TestSupport

/// The client against a fake Redis that answers garbage, declares huge lengths, floods, or says
/// nothing: every command completes with an error within its deadline, nothing crashes or hangs,
/// and memory stays bounded.
final class RedisFakeServerTests: XCTestCase {
    var fake: RedisFakeServer!
    var harness: RedisLoopHarness!

    override func setUpWithError() throws { harness = try RedisLoopHarness() }

    override func tearDown() {
        harness?.shutdown()
        fake?.stop()
    }

    func client(configure: (inout RedisClient.Options) -> Void = { _ in }) -> RedisClient {
        var options = RedisClient.Options()
        options.commandTimeoutMilliseconds = 100
        options.reconnectInitialMilliseconds = 5
        options.reconnectMaxMilliseconds = 20
        options.circuitFailureThreshold = 1_000  // the breaker is tested on its own below
        configure(&options)
        return RedisClient(url: fake.url, options: options)
    }

    /// Sends `count` GETs at once; each result with how long it took, or nil for any that did not
    /// complete within `seconds`.
    func getAll(_ client: RedisClient, count: Int, seconds: Double = 5) -> [(Result<[UInt8]?, RedisError>, Double)]? {
        harness.run(timeout: seconds) { loop, done in
            let results = Locked<[(Result<[UInt8]?, RedisError>, Double)]>([])
            let start = MonotonicClock.now()
            for index in 0..<count {
                client.get("k\(index)", on: loop) { result in
                    let elapsed = Double(MonotonicClock.now() - start) / 1e9
                    let all = results.withLock { results -> [(Result<[UInt8]?, RedisError>, Double)]? in
                        results.append((result, elapsed))
                        return results.count == count ? results : nil
                    }
                    if let all { done(all) }
                }
            }
        }
    }

    /// The test runner's own resident memory: the client runs in process.
    var residentKiB: Int { (try? RunningBinary.residentKiB(process: "self")) ?? 0 }

    var underSanitizer: Bool { ProcessInfo.processInfo.environment["STUDIOGATE_SANITIZER"] != nil }

    func testMalformedRepliesFailEveryCommand() throws {
        let garbage = [
            "?bad\r\n", "$abc\r\n", "+OK\n", "$-5\r\n", ":12x\r\n", "$3\r\nabcXY\r\n",
            "HTTP/1.1 400 Bad Request\r\n\r\n", String(repeating: "*1\r\n", count: 20) + ":1\r\n",
            "+" + String(repeating: "a", count: 20_000) + "\r\n",
        ]
        for reply in garbage {
            fake?.stop()
            fake = RedisFakeServer(.answerEach(Array(reply.utf8)))
            let client = client()
            let name = reply.prefix(20).debugDescription
            let results = try XCTUnwrap(getAll(client, count: 5), "a command hung on \(name)")
            for (result, elapsed) in results {
                guard case .failure(let error) = result else { return XCTFail("\(name) was accepted") }
                switch error {
                case .protocolError, .connectionClosed, .notConnected: break
                default: XCTFail("\(name): \(error)")
                }
                XCTAssertLessThan(elapsed, 0.1 + 0.4, "past its deadline")
            }
            XCTAssertTrue(
                results.contains { if case .failure(.protocolError) = $0.0 { true } else { false } },
                "\(name): \(results.map(\.0))")
        }
    }

    /// `$9999999999` and then bytes as fast as the socket takes them: refused at the header, the
    /// connection closed, memory flat.
    func testHugeBulkLengthIsRefusedAtOnce() throws {
        let flood = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        fake = RedisFakeServer(.answerOnce(Array("$9999999999\r\n".utf8), thenStream: flood))
        let client = client { $0.commandTimeoutMilliseconds = 2_000 }
        let tooLong = RedisError.protocolError(.bulkTooLong(limit: RESPLimits().maxBulkLength))
        let before = residentKiB
        let results = try XCTUnwrap(getAll(client, count: 3))
        for (result, elapsed) in results {
            XCTAssertLessThan(elapsed, 1, "refused only at the deadline")
            // All were sent on one connection, so all fail with its error.
            XCTAssertEqual(result, .failure(tooLong))
        }
        usleep(300_000)  // the fake keeps streaming into reconnected connections meanwhile
        XCTAssertGreaterThanOrEqual(fake.peerClosed, 1, "the connection was not closed")
        if !underSanitizer { XCTAssertLessThan(residentKiB - before, 64 * 1024, "grew by \(residentKiB - before) KiB") }
    }

    /// A bulk string within the limits that trickles in: the command times out, the connection is
    /// closed; nothing waits for the rest.
    func testTricklingReplyTimesOut() throws {
        fake = RedisFakeServer(.answerOnce(Array("$100000\r\n".utf8), thenStream: Array("y".utf8), interval: 0.002))
        let client = client { $0.commandTimeoutMilliseconds = 50 }
        let results = try XCTUnwrap(getAll(client, count: 1))
        XCTAssertEqual(results.first?.0, .failure(.timeout))
        XCTAssertLessThan(results.first?.1 ?? 99, 0.05 + 0.4)
        XCTAssertEqual(client.stats.timeouts.load(ordering: .relaxed), 1)
    }

    /// A Redis that says nothing: every pipelined command fails at its deadline (the first ones as
    /// timeouts, the rest because their connection was closed), and the client reconnects.
    func testSilentServerTimesOutEveryCommand() throws {
        fake = RedisFakeServer(.silent)
        let client = client { $0.commandTimeoutMilliseconds = 30 }
        let results = try XCTUnwrap(getAll(client, count: 20))
        XCTAssertEqual(results.count, 20)
        for (result, elapsed) in results {
            guard case .failure(let error) = result else { return XCTFail("an answer from a silent server") }
            XCTAssertTrue(error == .timeout || "\(error)".contains("timed out"), "\(error)")
            XCTAssertLessThan(elapsed, 0.03 + 0.4)
        }
        XCTAssertGreaterThanOrEqual(client.stats.timeouts.load(ordering: .relaxed), 1)
        var reconnected = false
        for _ in 0..<100 where !reconnected {
            reconnected = fake.accepted > 2  // two connections at first, then new ones after the close
            usleep(10_000)
        }
        XCTAssertTrue(reconnected)
    }

    /// `RESPLimits` bound one reply, not a connection's lifetime: many replies each under
    /// `maxValueBytes`, together far past it, all arrive on the one connection that carried them.
    func testValueLimitAppliesToEachReplyNotToTheConnection() throws {
        let value = [UInt8](repeating: UInt8(ascii: "v"), count: 600)
        fake = RedisFakeServer(.answerEach(Array("$600\r\n".utf8) + value + Array("\r\n".utf8)))
        let client = client {
            $0.connectionsPerLoop = 1
            $0.limits.maxValueBytes = 1_000
            $0.commandTimeoutMilliseconds = 2_000
        }
        let count = 50  // 50 × 606 bytes: 30 times the limit
        let results = try XCTUnwrap(getAll(client, count: count))
        XCTAssertEqual(results.count, count)
        let failures = results.compactMap { result, _ in result == .success(value) ? nil : result }
        XCTAssertEqual(failures.count, 0, "first failure: \(failures.first.map { "\($0)".prefix(200) } ?? "")")
        XCTAssertEqual(fake.accepted, 1, "the connection was closed and reopened")
        XCTAssertEqual(fake.commandsReceived, count)
    }

    /// A subscribed Redis that stops answering without closing (a partition, a paused VM): the
    /// unanswered PING gives it away within two ping intervals, the subscriber reports the loss and
    /// subscribes again on a new connection.
    func testSubscriberPingNoticesARedisThatStopsAnswering() throws {
        let confirmation = "*3\r\n$9\r\nsubscribe\r\n$10\r\ninvalidate\r\n:1\r\n"
        fake = RedisFakeServer(.answerOnce(Array(confirmation.utf8)))  // then silent, on each connection
        let pingInterval = 50
        let client = client { $0.subscriberPingIntervalMilliseconds = pingInterval }
        let events = Locked<[(event: RedisSubscriptionEvent, at: UInt64)]>([])
        let subscription = harness.subscribe(client, ["invalidate"]) { event in
            events.withLock { $0.append((event, MonotonicClock.now())) }
        }
        defer { subscription?.cancel() }
        func firstTime(within seconds: Double, of wanted: (RedisSubscriptionEvent) -> Bool) -> UInt64? {
            let end = MonotonicClock.now() + MonotonicClock.nanoseconds(seconds)
            repeat {
                if let found = events.withLock({ $0.first { wanted($0.event) }?.at }) { return found }
                usleep(2_000)
            } while MonotonicClock.now() < end
            return nil
        }
        let subscribed = try XCTUnwrap(firstTime(within: 5) { $0 == .subscribed(resumed: false) })
        let lost = try XCTUnwrap(
            firstTime(within: 5) { $0 == .disconnected(.timeout) }, "no disconnect: \(events.withLock { $0 })")
        let detection = Double(lost - subscribed) / 1e9
        XCTAssertGreaterThanOrEqual(detection, 0.001 * Double(pingInterval), "lost before the first ping was due")
        XCTAssertLessThan(detection, 0.001 * Double(2 * pingInterval) + 0.4, "noticed only after \(detection) s")
        XCTAssertNotNil(firstTime(within: 5) { $0 == .subscribed(resumed: true) }, "no resubscription")
        XCTAssertGreaterThanOrEqual(fake.accepted, 2)
    }

    /// Replies nobody asked for (a flood of +OK): the connection is closed at the first one, again
    /// after each reconnection; memory stays flat.
    func testUnsolicitedRepliesCloseTheConnection() throws {
        let flood = Array(repeating: Array("+OK\r\n".utf8), count: 10_000).flatMap { $0 }
        fake = RedisFakeServer(.answerOnce(Array("+PONG\r\n".utf8), thenStream: flood))
        let client = client()
        let before = residentKiB
        XCTAssertEqual(try XCTUnwrap(harness.ping(client)).map { _ in true }, .success(true))
        usleep(500_000)
        XCTAssertGreaterThanOrEqual(fake.peerClosed, 1)
        if !underSanitizer { XCTAssertLessThan(residentKiB - before, 64 * 1024) }
    }

    /// A Redis that accepts and never reads: once the kernel's buffers and the connection's own
    /// bound are full, commands fail at once (`.backpressure`) instead of growing memory.
    func testARedisThatStopsReadingGetsBackpressure() throws {
        fake = RedisFakeServer(.neverRead, receiveBuffer: 4_096)
        let client = client {
            $0.maxOutputBytes = 64 * 1024
            $0.commandTimeoutMilliseconds = 300
            $0.connectionsPerLoop = 1
            $0.circuitFailureThreshold = 1_000_000  // backpressure counts against health; not tested here
        }
        client.start(on: [harness.loop])
        usleep(100_000)
        let value = [UInt8](repeating: 7, count: 16 * 1024)
        let results = try XCTUnwrap(
            harness.run(timeout: 5) { loop, done in
                let results = Locked<[Result<Bool, RedisError>]>([])
                for _ in 0..<2_000 {
                    client.set("big", value, expireMilliseconds: 1_000, on: loop) { result in
                        let all = results.withLock { results -> [Result<Bool, RedisError>]? in
                            results.append(result)
                            return results.count == 2_000 ? results : nil
                        }
                        if let all { done(all) }
                    }
                }
            }, "commands hung")
        let refused = results.filter { $0 == .failure(.backpressure) }.count
        // What was taken went into the kernel's socket buffers (a few MB on loopback) and the 64 KiB.
        XCTAssertGreaterThan(refused, 1_500, "a non-reading Redis took \(2_000 - refused) commands of 16 KiB")
        XCTAssertTrue(results.allSatisfy { if case .failure = $0 { true } else { false } })
    }

    /// After N consecutive failures the circuit opens: commands fail at once and the fake sees no
    /// byte of them. After the cool-down one probe goes through; when it succeeds, the circuit closes.
    func testCircuitOpensWithoutTouchingTheNetworkAndClosesAfterAProbe() throws {
        fake = RedisFakeServer(.silent)
        let client = client {
            $0.circuitFailureThreshold = 3
            $0.circuitCoolDownMilliseconds = 300
            $0.commandTimeoutMilliseconds = 20
        }
        // Timeouts, or no connection while both reconnect after theirs: failures either way.
        for _ in 0..<3 { XCTAssertFalse(try XCTUnwrap(harness.get(client, "k")).isSuccess) }
        XCTAssertEqual(client.circuitState, .open)
        usleep(50_000)
        let bytesBefore = fake.bytesReceived
        // Refused before `get` returns: no deadline, no socket.
        let refusedAtOnce = harness.run { (loop, done: @escaping @Sendable (Int) -> Void) in
            var refused = 0
            for _ in 0..<50 {
                var result: Result<[UInt8]?, RedisError>? = nil
                client.get("k", on: loop) { result = $0 }
                if result == .failure(.circuitOpen) { refused += 1 }
            }
            done(refused)
        }
        XCTAssertEqual(refusedAtOnce, 50)
        usleep(50_000)
        XCTAssertEqual(fake.bytesReceived, bytesBefore, "an open circuit sent commands")
        XCTAssertEqual(client.stats.rejectedByCircuit.load(ordering: .relaxed), 50)

        // The probe after the cool-down still meets a silent Redis: open again.
        usleep(300_000)
        XCTAssertFalse(try XCTUnwrap(harness.get(client, "k")).isSuccess)
        XCTAssertEqual(client.circuitState, .open)
        XCTAssertEqual(try XCTUnwrap(harness.get(client, "k")).map { _ in true }, .failure(.circuitOpen))

        // Redis recovers; the next probe succeeds and closes the circuit.
        fake.change(to: .answerEach(Array("$2\r\nok\r\n".utf8)))
        usleep(350_000)
        var answered = false
        for _ in 0..<50 where !answered {
            answered = (try? harness.get(client, "k")?.get()) == Array("ok".utf8)
            if !answered { usleep(20_000) }
        }
        XCTAssertTrue(answered)
        XCTAssertEqual(client.circuitState, .closed)
        XCTAssertGreaterThanOrEqual(client.stats.circuitOpenings.load(ordering: .relaxed), 2)
    }

    /// Nothing listens: commands fail fast and name the reason.
    func testNothingListeningFailsFast() throws {
        let port = LoopbackPort.free()
        let client = RedisClient(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port)))
        let result = try XCTUnwrap(harness.get(client, "k"))
        guard case .failure(.notConnected(let reason)) = result else { return XCTFail("\(result)") }
        XCTAssertTrue(reason.contains("refused"), reason)
    }
}
