import EventLoop
import Foundation
import Locking
import XCTest

@testable import Redis
@testable import TestSupport

/// The client against a real `redis-server` on a loopback port: the commands the gateway needs,
/// pipelining, login, database selection, a unix socket, pub/sub, and a Redis that dies and comes
/// back. Every wait is bounded.
final class RedisClientTests: XCTestCase {
    var redis: RedisServerProcess!
    var harness: RedisLoopHarness!

    override func setUpWithError() throws {
        try RedisServerProcess.skipUnlessInstalled()
        harness = try RedisLoopHarness()
    }

    override func tearDown() {
        harness?.shutdown()
        redis?.stop()
    }

    func client(_ url: RedisURL? = nil, configure: (inout RedisClient.Options) -> Void = { _ in }) -> RedisClient {
        var options = RedisClient.Options()
        // Generous for a shared 2-core CI machine; the deadline tests set their own.
        options.commandTimeoutMilliseconds = 2_000
        configure(&options)
        return RedisClient(url: url ?? RedisURL(endpoint: .tcp(host: "127.0.0.1", port: redis.port)), options: options)
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self) } ?? "nothing" }

    func testSetGetDelete() throws {
        redis = try RedisServerProcess()
        let client = client()
        XCTAssertEqual(try harness.set(client, "entry:{AC1}:a", bytes("value a"))?.get(), true)
        XCTAssertEqual(try harness.get(client, "entry:{AC1}:a")?.get(), bytes("value a"))
        XCTAssertEqual(try harness.get(client, "entry:{AC1}:missing")?.get(), .some(nil))
        let deleted = harness.run { loop, done in
            client.delete(["entry:{AC1}:a", "entry:{AC1}:missing"], on: loop) { done($0) }
        }
        XCTAssertEqual(try deleted?.get(), 1)
        XCTAssertEqual(try harness.get(client, "entry:{AC1}:a")?.get(), .some(nil))
        XCTAssertEqual(client.stats.errors.load(ordering: .relaxed), 0)
        XCTAssertEqual(client.circuitState, .closed)
    }

    /// Answers and failures alike complete on the loop that sent the command; each loop has its
    /// own connections.
    func testCompletionsRunOnTheCallingLoop() throws {
        redis = try RedisServerProcess()
        harness.shutdown()
        harness = try RedisLoopHarness(threads: 2)
        let client = client()
        let down = RedisClient(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: LoopbackPort.free())))
        for index in 0..<2 {
            let onLoop = harness.run(on: index) { (loop, done: @escaping @Sendable ([Bool]) -> Void) in
                let seen = Locked<[Bool]>([])
                client.set("k\(index)", [1], expireMilliseconds: 1_000, on: loop) { result in
                    seen.withLock { $0.append(loop.inEventLoop && (try? result.get()) == true) }
                    client.get("k\(index)", on: loop) { result in
                        seen.withLock { $0.append(loop.inEventLoop && (try? result.get()) == [1]) }
                        down.ping(on: loop) { result in
                            seen.withLock { $0.append(loop.inEventLoop && !result.isSuccess) }
                            done(seen.withLock { $0 })
                        }
                    }
                }
            }
            XCTAssertEqual(onLoop, [true, true, true], "loop \(index)")
        }
        XCTAssertEqual(client.stats.connectionsOpened.load(ordering: .relaxed), 4, "two connections on each loop")
    }

    func testBinaryAndLargeValuesRoundTrip() throws {
        redis = try RedisServerProcess()
        let client = client()
        let binary: [UInt8] = Array(0...255) + Array("\r\n$-1\r\n".utf8)
        let large = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        XCTAssertEqual(try harness.set(client, "binary", binary)?.get(), true)
        XCTAssertEqual(try harness.set(client, "large", large)?.get(), true)
        XCTAssertEqual(try harness.get(client, "binary")?.get(), binary)
        XCTAssertEqual(try harness.get(client, "large")?.get(), large)
    }

    func testEntriesExpireAfterTheirPX() throws {
        redis = try RedisServerProcess()
        let client = client()
        XCTAssertEqual(try harness.set(client, "short", bytes("x"), expireMilliseconds: 100)?.get(), true)
        XCTAssertEqual(try harness.get(client, "short")?.get(), bytes("x"))
        var gone = false
        for _ in 0..<50 where !gone {
            usleep(20_000)
            gone = (try harness.get(client, "short")?.get()) == .some(nil)
        }
        XCTAssertTrue(gone, "the entry outlived its PX")
    }

    func testSetNXIsALease() throws {
        redis = try RedisServerProcess()
        let client = client()
        XCTAssertEqual(try harness.set(client, "lease", bytes("pod-a"), onlyIfAbsent: true)?.get(), true)
        XCTAssertEqual(try harness.set(client, "lease", bytes("pod-b"), onlyIfAbsent: true)?.get(), false)
        XCTAssertEqual(try harness.get(client, "lease")?.get(), bytes("pod-a"))
    }

    func testPublishReachesASubscriber() throws {
        redis = try RedisServerProcess()
        let client = client()
        let events = Locked<[RedisSubscriptionEvent]>([])
        let subscribed = expectation(description: "subscribed")
        let received = expectation(description: "message")
        let subscription = harness.subscribe(client, ["invalidate", "other"]) { event in
            events.withLock { $0.append(event) }
            if case .subscribed = event { subscribed.fulfill() }
            if case .message = event { received.fulfill() }
        }
        wait(for: [subscribed], timeout: 5)
        let receivers = harness.run { loop, done in client.publish("invalidate", [0, 1, 2], on: loop) { done($0) } }
        XCTAssertEqual(try receivers?.get(), 1)
        wait(for: [received], timeout: 5)
        XCTAssertEqual(
            events.withLock { $0 },
            [.subscribed(resumed: false), .message(channel: "invalidate", payload: [0, 1, 2])])
        subscription?.cancel()
        var gone = false
        for _ in 0..<100 where !gone {
            let receivers = harness.run { loop, done in client.publish("invalidate", [3], on: loop) { done($0) } }
            gone = (try receivers?.get()) == 0
            if !gone { usleep(10_000) }
        }
        XCTAssertTrue(gone, "a cancelled subscription still received")
        XCTAssertEqual(client.stats.messagesReceived.load(ordering: .relaxed), 1)
    }

    func testSubscriberPingsAndResubscribesAfterRedisRestarts() throws {
        redis = try RedisServerProcess()
        let client = client {
            $0.subscriberPingIntervalMilliseconds = 50
            $0.reconnectMaxMilliseconds = 100
        }
        let events = Locked<[RedisSubscriptionEvent]>([])
        _ = harness.subscribe(client, ["invalidate"]) { event in events.withLock { $0.append(event) } }
        func waitFor(seconds: Double = 5, _ condition: ([RedisSubscriptionEvent]) -> Bool) -> Bool {
            for _ in 0..<Int(seconds * 50) {
                if events.withLock({ condition($0) }) { return true }
                usleep(20_000)
            }
            return false
        }
        XCTAssertTrue(waitFor { $0.contains(.subscribed(resumed: false)) })
        usleep(200_000)  // a few pongs come back: the connection stays
        XCTAssertEqual(events.withLock { $0 }, [.subscribed(resumed: false)])
        redis.kill()
        XCTAssertTrue(waitFor { $0.contains { if case .disconnected = $0 { true } else { false } } })
        try redis.start()
        XCTAssertTrue(
            waitFor { $0.contains(.subscribed(resumed: true)) },
            "no resubscription: \(events.withLock { $0 })")
        var delivered = false
        for _ in 0..<10 where !delivered {
            _ = harness.run { loop, done in client.publish("invalidate", Array("again".utf8), on: loop) { done($0) } }
            delivered = waitFor(seconds: 0.5) {
                $0.contains(.message(channel: "invalidate", payload: Array("again".utf8)))
            }
        }
        XCTAssertTrue(delivered)
    }

    /// Thousands of commands issued in one go on one loop: the connections carry them without
    /// waiting for replies in between, and every answer goes to its own command. (Commands on two
    /// connections have no order between them, so the GETs are sent once the SETs are answered.)
    func testPipelinedCommandsAreAnsweredInOrder() throws {
        redis = try RedisServerProcess()
        let client = client { $0.maxPendingCommands = 10_000 }
        XCTAssertTrue(harness.waitUntilAnswering(client))
        let count = 3_000
        let stored = harness.run(timeout: 20) { (loop, done: @escaping @Sendable (Int) -> Void) in
            let stored = Locked(0)
            let remaining = Locked(count)
            for index in 0..<count {
                client.set("p\(index)", Array("v\(index)".utf8), expireMilliseconds: 60_000, on: loop) { result in
                    if case .success(true) = result { stored.withLock { $0 += 1 } }
                    if remaining.withLock({
                        $0 -= 1
                        return $0
                    }) == 0 {
                        done(stored.withLock { $0 })
                    }
                }
            }
        }
        XCTAssertEqual(stored, count)
        let answers = harness.run(timeout: 20) { (loop, done: @escaping @Sendable ([Int: [UInt8]]) -> Void) in
            let results = Locked<[Int: [UInt8]]>([:])
            let remaining = Locked(count)
            for index in 0..<count {
                client.get("p\(index)", on: loop) { result in
                    if case .success(let value?) = result { results.withLock { $0[index] = value } }
                    if remaining.withLock({
                        $0 -= 1
                        return $0
                    }) == 0 {
                        done(results.withLock { $0 })
                    }
                }
            }
        }
        let values = try XCTUnwrap(answers, "not every command completed")
        XCTAssertEqual(values.count, count)
        for index in 0..<count where values[index] != Array("v\(index)".utf8) {
            return XCTFail("command \(index) got \(text(values[index]))")
        }
        XCTAssertLessThanOrEqual(client.stats.connectionsOpened.load(ordering: .relaxed), 2)
        XCTAssertEqual(client.stats.errors.load(ordering: .relaxed), 0)
    }

    /// On one connection, commands are answered in the order they were sent: a GET after a SET
    /// reads it, however many are in flight.
    func testOneConnectionKeepsTheOrderOfCommands() throws {
        redis = try RedisServerProcess()
        let client = client { $0.connectionsPerLoop = 1 }
        XCTAssertTrue(harness.waitUntilAnswering(client))
        let count = 1_000
        let answers = harness.run(timeout: 20) { (loop, done: @escaping @Sendable ([Int: [UInt8]]) -> Void) in
            let results = Locked<[Int: [UInt8]]>([:])
            let remaining = Locked(count)
            for index in 0..<count {
                client.set("same", Array("v\(index)".utf8), expireMilliseconds: 60_000, on: loop) { _ in }
                client.get("same", on: loop) { result in
                    if case .success(let value?) = result { results.withLock { $0[index] = value } }
                    if remaining.withLock({
                        $0 -= 1
                        return $0
                    }) == 0 {
                        done(results.withLock { $0 })
                    }
                }
            }
        }
        let values = try XCTUnwrap(answers, "not every command completed")
        for index in 0..<count where values[index] != Array("v\(index)".utf8) {
            return XCTFail("GET \(index) read \(text(values[index]))")
        }
    }

    func testPasswordLogin() throws {
        redis = try RedisServerProcess(arguments: ["--requirepass", "s3cret pass"])
        let base = "redis://127.0.0.1:\(redis.port)"
        let withURLPassword = client(try RedisURL(parsing: "redis://:s3cret%20pass@127.0.0.1:\(redis.port)"))
        XCTAssertEqual(try harness.set(withURLPassword, "k", bytes("v"))?.get(), true)
        let withOverride = client(try RedisURL(parsing: base, password: "s3cret pass"))
        XCTAssertEqual(try harness.get(withOverride, "k")?.get(), bytes("v"))
        let withUser = client(try RedisURL(parsing: "redis://default:s3cret%20pass@127.0.0.1:\(redis.port)"))
        XCTAssertEqual(try harness.get(withUser, "k")?.get(), bytes("v"))

        // Without a password Redis answers every command NOAUTH: an error that says it cannot serve.
        let anonymous = client(try RedisURL(parsing: base))
        guard case .failure(.server(let message))? = harness.get(anonymous, "k") else {
            return XCTFail("served without AUTH")
        }
        XCTAssertTrue(message.hasPrefix("NOAUTH"), message)

        // A wrong password fails the login: the connection never becomes ready, and the reason says so.
        let wrong = client(try RedisURL(parsing: base, password: "wr0ng-pw"))
        var reason = ""
        for _ in 0..<50 where !reason.contains("AUTH failed") {
            if case .failure(let error)? = harness.get(wrong, "k") { reason = error.description }
            usleep(20_000)
        }
        XCTAssertTrue(reason.contains("AUTH failed") && reason.contains("WRONGPASS"), reason)
        XCTAssertFalse(reason.contains("wr0ng-pw"), "the password appears in: \(reason)")
        XCTAssertEqual(wrong.stats.connectionsOpened.load(ordering: .relaxed), 0)
    }

    func testDatabaseFromTheURLIsSelected() throws {
        redis = try RedisServerProcess()
        let db3 = client(try RedisURL(parsing: "redis://127.0.0.1:\(redis.port)/3"))
        let db0 = client(try RedisURL(parsing: "redis://127.0.0.1:\(redis.port)"))
        XCTAssertEqual(try harness.set(db3, "only-in-3", bytes("x"))?.get(), true)
        XCTAssertEqual(try harness.get(db3, "only-in-3")?.get(), bytes("x"))
        XCTAssertEqual(try harness.get(db0, "only-in-3")?.get(), .some(nil))
    }

    func testUnixSocket() throws {
        redis = try RedisServerProcess(unixSocketOnly: true)
        let client = client(try RedisURL(parsing: "unix://\(redis.socketPath)?db=1"))
        XCTAssertTrue(harness.waitUntilAnswering(client, seconds: 3))
        XCTAssertEqual(try harness.set(client, "over-unix", bytes("yes"))?.get(), true)
        XCTAssertEqual(try harness.get(client, "over-unix")?.get(), bytes("yes"))
    }

    /// A host name is looked up off the loop; the client answers once the lookup is done.
    func testHostNameIsLookedUp() throws {
        redis = try RedisServerProcess()
        let client = client(try RedisURL(parsing: "redis://localhost:\(redis.port)"))
        XCTAssertTrue(harness.waitUntilAnswering(client, seconds: 5))
    }

    /// Redis killed while commands flow: they fail (fast, never hang), the circuit opens, and once
    /// Redis is back the connections return by themselves and the circuit closes.
    func testRedisKilledAndRestartedFailsThenRecovers() throws {
        redis = try RedisServerProcess()
        let client = client {
            $0.commandTimeoutMilliseconds = 200
            $0.circuitCoolDownMilliseconds = 200
            $0.reconnectMaxMilliseconds = 100
        }
        XCTAssertTrue(harness.waitUntilAnswering(client))
        XCTAssertEqual(try harness.set(client, "before", bytes("1"))?.get(), true)
        redis.kill()

        var failures: [RedisError] = []
        let start = Date()
        for index in 0..<40 {
            let result = try XCTUnwrap(harness.set(client, "during\(index)", bytes("x")), "a command hung")
            if case .failure(let error) = result { failures.append(error) }
            usleep(5_000)
        }
        XCTAssertEqual(failures.count, 40)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertTrue(failures.contains(.circuitOpen), "\(failures)")
        XCTAssertGreaterThanOrEqual(client.stats.circuitOpenings.load(ordering: .relaxed), 1)
        XCTAssertTrue(
            failures.allSatisfy { error in
                switch error {
                case .circuitOpen, .notConnected, .connectionClosed: true
                default: false
                }
            }, "\(failures)")

        try redis.start()
        XCTAssertTrue(harness.waitUntilAnswering(client, seconds: 5), "no recovery after Redis came back")
        XCTAssertEqual(client.circuitState, .closed)
        XCTAssertEqual(try harness.set(client, "after", bytes("2"))?.get(), true)
        XCTAssertEqual(try harness.get(client, "after")?.get(), bytes("2"))
        XCTAssertGreaterThanOrEqual(
            client.stats.connectionsOpened.load(ordering: .relaxed), 3,
            "first connections and reconnections")
    }
}
