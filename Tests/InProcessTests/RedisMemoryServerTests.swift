import EventLoop
import Foundation
import Locking
import XCTest

@testable import Redis
@testable import TestSupport

/// The in-memory Redis driven by the real client: each command the fleet sends answers as Redis
/// does, expiry follows the manual clock, pub/sub crosses connections, and a hang or a restart
/// reaches the client as a real one would. Waits are bounded polls, never fixed sleeps.
final class RedisMemoryServerTests: XCTestCase {
    var server: RedisMemoryServer!
    var harness: RedisLoopHarness!
    let clock = RedisMemoryServer.ManualClock()

    override func setUpWithError() throws { harness = try RedisLoopHarness() }

    override func tearDown() {
        harness?.shutdown()
        server?.stop()
    }

    func start(password: String? = nil) {
        let clock = clock
        server = RedisMemoryServer(password: password, clock: { clock.now() })
    }

    func client(_ url: RedisURL? = nil, configure: (inout RedisClient.Options) -> Void = { _ in }) -> RedisClient {
        var options = RedisClient.Options()
        // Generous for a shared 2-core machine; the pause test sets its own deadline.
        options.commandTimeoutMilliseconds = 2_000
        options.reconnectInitialMilliseconds = 5
        options.reconnectMaxMilliseconds = 20
        configure(&options)
        return RedisClient(url: url ?? server.url, options: options)
    }

    func send(_ client: RedisClient, _ arguments: [RESPArgument]) -> Result<RESPValue, RedisError>? {
        harness.run { loop, done in client.send(RedisCommand(arguments), on: loop) { done($0) } }
    }

    func bulk(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }

    /// Polls every 2 ms until `condition` holds, for at most `seconds`.
    func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let end = MonotonicClock.now() + MonotonicClock.nanoseconds(seconds)
        while MonotonicClock.now() < end {
            if condition() { return true }
            usleep(2_000)
        }
        return condition()
    }

    func testSetNXAndPXExpireOnTheManualClock() throws {
        start()
        let client = client()
        XCTAssertEqual(try harness.set(client, "lease", [1], expireMilliseconds: 100, onlyIfAbsent: true)?.get(), true)
        XCTAssertEqual(try harness.set(client, "lease", [2], expireMilliseconds: 100, onlyIfAbsent: true)?.get(), false)
        XCTAssertEqual(try harness.get(client, "lease")?.get(), [1])
        XCTAssertEqual(server.ttlMilliseconds(of: "lease"), 100)
        XCTAssertEqual(try send(client, ["PTTL", "lease"])?.get(), .integer(100))
        clock.advance(milliseconds: 100)
        XCTAssertEqual(try harness.get(client, "lease")?.get(), [1], "a key lives through its last millisecond")
        clock.advance(milliseconds: 1)
        XCTAssertEqual(try harness.get(client, "lease")?.get(), .some(nil))
        XCTAssertEqual(server.ttlMilliseconds(of: "lease"), -2)
        XCTAssertEqual(try harness.set(client, "lease", [3], expireMilliseconds: 100, onlyIfAbsent: true)?.get(), true)
        // A plain SET replaces the value and its expiry.
        XCTAssertEqual(try send(client, ["SET", "lease", "plain"])?.get(), .simpleString("OK"))
        XCTAssertEqual(server.value(of: "lease"), Array("plain".utf8))
        XCTAssertEqual(server.ttlMilliseconds(of: "lease"), -1)
        XCTAssertEqual(
            send(client, ["SET", "lease", "x", "PX", "0"]),
            .failure(.server("ERR invalid expire time in 'set' command")))
        XCTAssertEqual(send(client, ["SET", "lease", "x", "NX", "XX"]), .failure(.server("ERR syntax error")))
    }

    func testDeleteExistsAndKeys() throws {
        start()
        let client = client()
        for key in ["entry:{AC1}:a", "entry:{AC1}:b", "entry:{AC2}:a"] {
            XCTAssertEqual(try harness.set(client, key, Array(key.utf8))?.get(), true)
        }
        XCTAssertEqual(try send(client, ["EXISTS", "entry:{AC1}:a", "entry:{AC1}:a", "missing"])?.get(), .integer(2))
        XCTAssertEqual(
            try send(client, ["KEYS", "entry:{AC1}:*"])?.get(), .array([bulk("entry:{AC1}:a"), bulk("entry:{AC1}:b")]))
        XCTAssertEqual(try send(client, ["KEYS", "entry:{AC?}:a"])?.get().arrayCount, 2)
        XCTAssertEqual(server.keys(matching: "entry:{AC1}"), ["entry:{AC1}:a", "entry:{AC1}:b"])
        let deleted = harness.run { loop, done in
            client.delete(["entry:{AC1}:a", "entry:{AC1}:b", "missing"], on: loop) { done($0) }
        }
        XCTAssertEqual(try deleted?.get(), 2)
        XCTAssertEqual(server.keys(), ["entry:{AC2}:a"])
    }

    func testSetsAndPEXPIRE() throws {
        start()
        let client = client()
        XCTAssertEqual(try send(client, ["SADD", "group", "k1", "k2"])?.get(), .integer(2))
        XCTAssertEqual(try send(client, ["SADD", "group", "k2", "k3"])?.get(), .integer(1))
        XCTAssertEqual(try send(client, ["SMEMBERS", "group"])?.get(), .array([bulk("k1"), bulk("k2"), bulk("k3")]))
        XCTAssertEqual(try send(client, ["SMEMBERS", "missing"])?.get(), .array([]))
        XCTAssertEqual(server.members(of: "group"), ["k1", "k2", "k3"])
        XCTAssertEqual(try send(client, ["PEXPIRE", "group", "500"])?.get(), .integer(1))
        XCTAssertEqual(try send(client, ["PEXPIRE", "missing", "500"])?.get(), .integer(0))
        clock.advance(milliseconds: 200)
        XCTAssertEqual(try send(client, ["SADD", "group", "k4"])?.get(), .integer(1))
        XCTAssertEqual(server.ttlMilliseconds(of: "group"), 300, "SADD keeps the set's expiry")
        clock.advance(milliseconds: 301)
        XCTAssertEqual(try send(client, ["SMEMBERS", "group"])?.get(), .array([]))
        XCTAssertNil(server.members(of: "group"))
        // Strings and sets do not mix.
        XCTAssertEqual(try harness.set(client, "string", [1])?.get(), true)
        let wrongType = RedisError.server("WRONGTYPE Operation against a key holding the wrong kind of value")
        XCTAssertEqual(send(client, ["SADD", "string", "m"]), .failure(wrongType))
        XCTAssertEqual(try send(client, ["SADD", "set", "m"])?.get(), .integer(1))
        XCTAssertEqual(harness.get(client, "set"), .failure(wrongType))
    }

    func testPlantedValuesAndTheCommandLog() throws {
        start()
        let client = client()
        XCTAssertTrue(harness.waitUntilAnswering(client))
        server.resetCommandLog()
        server.set("entry:{AC1}:forged", Array("forged".utf8), expireMilliseconds: 50)
        XCTAssertEqual(try harness.get(client, "entry:{AC1}:forged")?.get(), Array("forged".utf8))
        XCTAssertEqual(server.commandLog, ["GET"], "no SET reached the server")
        XCTAssertTrue(server.delete("entry:{AC1}:forged"))
        XCTAssertFalse(server.delete("entry:{AC1}:forged"))
        XCTAssertEqual(try harness.get(client, "entry:{AC1}:forged")?.get(), .some(nil))
        XCTAssertEqual(
            send(client, ["FLUSHALL", "ASYNC"]),
            .failure(.server("ERR unknown command 'FLUSHALL', with args beginning with: 'ASYNC' ")))
        XCTAssertEqual(
            send(client, ["GET", "a", "b"]), .failure(.server("ERR wrong number of arguments for 'get' command")))
        XCTAssertEqual(server.commandLog, ["GET", "GET", "FLUSHALL", "GET"])
    }

    func testPasswordAndDatabaseFromTheURL() throws {
        start(password: "s3cret")
        var url = server.url
        url.database = 3
        let client = client(url)
        XCTAssertEqual(try harness.set(client, "k", [7])?.get(), true)
        XCTAssertEqual(server.value(of: "k", database: 3), [7])
        XCTAssertNil(server.value(of: "k"))
        XCTAssertEqual(server.commandLog.first, "AUTH")
        XCTAssertTrue(server.commandLog.contains("SELECT"))

        url.password = RedisSecret("wrong")
        let refused = self.client(url) { $0.connectTimeoutMilliseconds = 200 }
        guard case .failure = harness.get(refused, "k") else { return XCTFail("logged in with a wrong password") }
        url.password = nil
        url.database = 0  // else SELECT is what is refused
        let anonymous = self.client(url)
        XCTAssertEqual(harness.get(anonymous, "k"), .failure(.server("NOAUTH Authentication required.")))
    }

    /// Published on one connection, heard on another; the subscriber's pings get the pub/sub pong
    /// (so it keeps its connection), and a cancelled subscription stops counting as a receiver.
    func testPublishReachesASubscriberOnAnotherConnection() throws {
        start()
        let client = client { $0.subscriberPingIntervalMilliseconds = 50 }
        let events = Locked<[RedisSubscriptionEvent]>([])
        let subscription = harness.subscribe(client, ["invalidate", "other"]) { event in
            events.withLock { $0.append(event) }
        }
        XCTAssertTrue(eventually { events.withLock { $0 } == [.subscribed(resumed: false)] })
        XCTAssertEqual(server.subscribers(of: "invalidate"), 1)
        let receivers = harness.run { loop, done in client.publish("invalidate", [0, 1, 2], on: loop) { done($0) } }
        XCTAssertEqual(try receivers?.get(), 1)
        XCTAssertTrue(eventually { events.withLock { $0.count } == 2 })
        XCTAssertEqual(
            events.withLock { $0 },
            [.subscribed(resumed: false), .message(channel: "invalidate", payload: [0, 1, 2])])
        XCTAssertTrue(eventually { server.commandLog.filter { $0 == "PING" }.count >= 3 })
        XCTAssertEqual(events.withLock { $0.count }, 2, "a pong was not taken: \(events.withLock { $0 })")
        subscription?.cancel()
        XCTAssertTrue(eventually { server.subscribers(of: "invalidate") == 0 })
        let none = harness.run { loop, done in client.publish("invalidate", [3], on: loop) { done($0) } }
        XCTAssertEqual(try none?.get(), 0)
    }

    /// The exact replies of subscribed mode, on a raw socket: confirmations, a refused command, and
    /// PING answered in the pub/sub form (`*2 $4 pong $0`, what Redis 7 sends in RESP2). Then bytes
    /// that are not a command: an error, and the connection closed.
    func testSubscribedModeAndGarbageOnTheWire() throws {
        start()
        let raw = try RawClient(port: server.port, timeout: 5)
        var bytes: [UInt8] = []
        for command: [RESPArgument] in [["SUBSCRIBE", "a", "b"], ["GET", "k"], ["PING"], ["PING", "hi"]] {
            RESPEncoder.append(RedisCommand(command), to: &bytes)
        }
        raw.send(bytes)
        let replies = try Self.read(5, from: raw)
        XCTAssertEqual(
            replies,
            [
                .array([bulk("subscribe"), bulk("a"), .integer(1)]),
                .array([bulk("subscribe"), bulk("b"), .integer(2)]),
                .error(
                    "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
                        + "allowed in this context"),
                .array([bulk("pong"), bulk("")]),
                .array([bulk("pong"), bulk("hi")]),
            ])
        var pong: [UInt8] = []
        RESPEncoder.append(replies[3], to: &pong)
        XCTAssertEqual(String(decoding: pong, as: UTF8.self), "*2\r\n$4\r\npong\r\n$0\r\n\r\n")

        let garbage = try RawClient(port: server.port, timeout: 5)
        garbage.send("$3\r\nabc\r\n")
        XCTAssertEqual(try Self.read(1, from: garbage), [.error("ERR Protocol error: invalid request")])
        XCTAssertTrue(garbage.isClosedByPeer())
    }

    /// `count` values from a raw connection (its receive timeout bounds the wait).
    static func read(_ count: Int, from raw: RawClient) throws -> [RESPValue] {
        var parser = RESPParser()
        var values: [RESPValue] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while values.count < count {
            while values.count < count, let value = try parser.next() { values.append(value) }
            if values.count == count { break }
            let received = chunk.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, $0.count, 0) }
            guard received > 0 else { throw RawClient.Closed() }
            parser.feed(chunk[0..<received])
        }
        return values
    }

    /// A Redis that hangs: the command misses its deadline; after `resume` the client recovers.
    func testPausedServerTimesTheCommandOut() throws {
        start()
        let client = client { $0.circuitFailureThreshold = 1_000 }
        XCTAssertEqual(try harness.set(client, "k", [1])?.get(), true)
        server.pause()
        let start = MonotonicClock.now()
        XCTAssertEqual(harness.get(client, "k", timeoutMilliseconds: 100), .failure(.timeout))
        let elapsed = Double(MonotonicClock.now() - start) / 1e6
        XCTAssertLessThan(elapsed, 1_000, "the timeout took \(elapsed) ms")
        server.resume()
        XCTAssertTrue(harness.waitUntilAnswering(client))
        XCTAssertEqual(try harness.get(client, "k")?.get(), [1])
    }

    /// Every connection dropped, data kept: the subscriber reconnects and says it resumed, and
    /// hears what is published after.
    func testDisconnectAllMakesTheSubscriberResume() throws {
        start()
        let client = client()
        let events = Locked<[RedisSubscriptionEvent]>([])
        _ = harness.subscribe(client, ["invalidate"]) { event in events.withLock { $0.append(event) } }
        XCTAssertTrue(eventually { events.withLock { $0 } == [.subscribed(resumed: false)] })
        XCTAssertEqual(try harness.set(client, "k", [1])?.get(), true)
        let acceptedBefore = server.accepted
        server.disconnectAll()
        XCTAssertTrue(
            eventually { events.withLock { $0.contains(.subscribed(resumed: true)) } },
            "no resubscription: \(events.withLock { $0 })")
        let seen = events.withLock { $0 }
        XCTAssertEqual(seen.count, 3, "\(seen)")
        if case .disconnected = seen[1] {} else { XCTFail("not disconnected first: \(seen)") }
        XCTAssertGreaterThan(server.accepted, acceptedBefore)
        XCTAssertTrue(harness.waitUntilAnswering(client))
        XCTAssertEqual(try harness.get(client, "k")?.get(), [1])
        let receivers = harness.run { loop, done in client.publish("invalidate", [9], on: loop) { done($0) } }
        XCTAssertEqual(try receivers?.get(), 1)
        XCTAssertTrue(eventually { events.withLock { $0.last } == .message(channel: "invalidate", payload: [9]) })
    }
}

extension RESPValue {
    fileprivate var arrayCount: Int? {
        guard case .array(let items?) = self else { return nil }
        return items.count
    }
}
