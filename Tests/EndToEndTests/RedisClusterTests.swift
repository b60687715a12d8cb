import EventLoop
import Foundation
import Locking
import Synchronization
import XCTest

@testable import Redis
@testable import TestSupport

/// The client against a real 3-master Redis Cluster made by the test: discovery from any one node,
/// keys routed to their masters, a slot migrated while reads run (ASK, then MOVED, no failed read),
/// the seed node killed (the other masters' keys unaffected, its own fail fast), pub/sub across
/// nodes. One cluster serves the class; the test that kills a node makes its own.
final class RedisClusterTests: XCTestCase {
    nonisolated(unsafe) static var shared: RedisClusterProcess? = nil
    var harness: RedisLoopHarness!
    var ownCluster: RedisClusterProcess? = nil

    override class func tearDown() {
        shared?.stop()
        shared = nil
    }

    override func setUpWithError() throws {
        try RedisClusterProcess.skipUnlessInstalled()
        harness = try RedisLoopHarness()
    }

    override func tearDown() {
        harness?.shutdown()
        ownCluster?.stop()
    }

    func sharedCluster() throws -> RedisClusterProcess {
        if let shared = Self.shared { return shared }
        let cluster = try RedisClusterProcess()
        Self.shared = cluster
        return cluster
    }

    func client(seed port: UInt16, configure: (inout RedisClient.Options) -> Void = { _ in }) -> RedisClient {
        var options = RedisClient.Options()
        options.commandTimeoutMilliseconds = 2_000
        configure(&options)
        return RedisClient(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port)), options: options)
    }

    /// Started (discovery asked) and found to be a cluster.
    func startedClient(seed port: UInt16, configure: (inout RedisClient.Options) -> Void = { _ in }) -> RedisClient {
        let client = client(seed: port, configure: configure)
        client.start(on: harness.group.loops)
        XCTAssertTrue(eventually { client.isCluster == true }, "the cluster was not discovered")
        return client
    }

    func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func counter(_ value: borrowing Atomic<Int>) -> Int { value.load(ordering: .relaxed) }

    /// Keys whose slots fall on every master.
    func keysOnEveryMaster(_ cluster: RedisClusterProcess, prefix: String) throws -> [String: UInt16] {
        let ranges = try cluster.slotRanges(accordingTo: cluster.ports[0])
        var owners: [String: UInt16] = [:]
        for index in 0..<30 {
            let key = "\(prefix):\(index)"
            owners[key] = ranges.first { $0.slots.contains(HashSlot.of(key)) }?.port
        }
        XCTAssertEqual(Set(owners.values), Set(cluster.ports), "30 keys missed a master")
        return owners
    }

    func testKeysSpreadOverTheMastersAreSetAndReadThroughAnySeed() throws {
        let cluster = try sharedCluster()
        let first = startedClient(seed: cluster.ports[0])
        XCTAssertEqual(first.slotMap?.ownedSlotCount, 16_384)
        XCTAssertEqual(first.slotMap.map { Set($0.masters.map(\.port)) }, Set(cluster.ports))
        let owners = try keysOnEveryMaster(cluster, prefix: "spread")
        for key in owners.keys { XCTAssertEqual(try harness.set(first, key, bytes("v-" + key))?.get(), true, key) }
        for (key, port) in owners {
            XCTAssertEqual(try harness.get(first, key)?.get(), bytes("v-" + key), key)
            // Stored on the master that owns its slot, not merely somewhere.
            XCTAssertEqual(try cluster.cli(port, "GET", key).trimmingCharacters(in: .newlines), "v-" + key)
        }
        XCTAssertEqual(counter(first.stats.movedRedirections), 0, "routed straight to the owners")
        XCTAssertEqual(counter(first.stats.errors), 0)

        let second = startedClient(seed: cluster.ports[2])
        for key in owners.keys { XCTAssertEqual(try harness.get(second, key)?.get(), bytes("v-" + key), key) }
        XCTAssertTrue(harness.waitUntilAnswering(second), "PING goes to some master")

        // A DEL over several slots is split by slot and its counts summed.
        let doomed = Array(owners.keys.sorted().prefix(6)) + ["spread:missing"]
        XCTAssertGreaterThan(Set(doomed.map { HashSlot.of($0) }).count, 1)
        let deleted = harness.run { loop, done in second.delete(doomed, on: loop) { done($0) } }
        XCTAssertEqual(try deleted?.get(), 6)
        XCTAssertEqual(try harness.get(first, doomed[0])?.get(), .some(nil))
        XCTAssertEqual(counter(second.stats.errors), 0)
    }

    /// Never started, so nothing was discovered: the first MOVED is followed and teaches the map.
    func testAClientThatWasNeverStartedLearnsTheClusterFromItsFirstMoved() throws {
        let cluster = try sharedCluster()
        let owners = try keysOnEveryMaster(cluster, prefix: "lazy")
        let client = client(seed: cluster.ports[0])
        XCTAssertNil(client.isCluster)
        let elsewhere = try XCTUnwrap(owners.first { $0.value != cluster.ports[0] }?.key)
        XCTAssertEqual(try harness.set(client, elsewhere, bytes("x"))?.get(), true)
        XCTAssertEqual(counter(client.stats.movedRedirections), 1)
        XCTAssertTrue(eventually { client.isCluster == true })
        for key in owners.keys { XCTAssertEqual(try harness.set(client, key, bytes("y"))?.get(), true) }
        XCTAssertEqual(counter(client.stats.movedRedirections), 1, "the map learnt routes the rest directly")
    }

    func testASingleNodeStaysTheClientOfOld() throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let client = client(seed: redis.port)
        client.start(on: harness.group.loops)
        XCTAssertTrue(eventually { client.isCluster == false }, "cluster support disabled means a single node")
        XCTAssertEqual(try harness.set(client, "k", bytes("v"))?.get(), true)
        XCTAssertEqual(try harness.get(client, "k")?.get(), bytes("v"))
        XCTAssertEqual(counter(client.stats.slotMapRefreshes), 0)
        XCTAssertNil(client.slotMap)
    }

    /// Slot `{mig}` moves from its master to another while a reader keeps reading its keys: the
    /// keys already migrated are reached with ASK, then the new owner with MOVED, and not one read
    /// fails. Once the map is refreshed the reads go straight to the new owner.
    func testSlotMigrationWhileReadsRunLosesNoRead() throws {
        let cluster = try sharedCluster()
        let client = startedClient(seed: cluster.ports[0])
        let slot = HashSlot.of("mig")
        let source = try cluster.owner(ofSlot: slot)
        let target = try XCTUnwrap(cluster.ports.first { $0 != source })
        let keys = (0..<20).map { "{mig}:\($0)" }
        for key in keys { XCTAssertEqual(try harness.set(client, key, bytes("m-" + key))?.get(), true) }

        let reader = ContinuousReader(client: client, keys: keys, loop: harness.loop) { Array("m-\($0)".utf8) }
        reader.start()
        defer { reader.stop() }
        usleep(100_000)

        let sourceID = try cluster.nodeID(source)
        let targetID = try cluster.nodeID(target)
        XCTAssertEqual(try cluster.cli(target, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceID), "OK\n")
        XCTAssertEqual(try cluster.cli(source, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID), "OK\n")
        usleep(100_000)
        let halfway = Array(keys.prefix(10))
        let migrated = try cluster.cli(
            source, ["MIGRATE", "127.0.0.1", String(target), "", "0", "5000", "KEYS"] + halfway)
        XCTAssertEqual(migrated, "OK\n")
        // Half the keys are on the target: those need ASK, the rest are still served by the source.
        for key in keys { XCTAssertEqual(try harness.get(client, key)?.get(), bytes("m-" + key), key) }
        XCTAssertGreaterThan(counter(client.stats.askRedirections), 0, "no ASK while the slot was migrating")
        XCTAssertEqual(counter(client.stats.movedRedirections), 0)
        usleep(100_000)
        XCTAssertEqual(
            try cluster.cli(
                source, ["MIGRATE", "127.0.0.1", String(target), "", "0", "5000", "KEYS"] + keys.suffix(10)),
            "OK\n")
        for port in [target, source] + cluster.ports.filter({ $0 != target && $0 != source }) {
            XCTAssertEqual(try cluster.cli(port, "CLUSTER", "SETSLOT", String(slot), "NODE", targetID), "OK\n")
        }
        try cluster.waitUntil("every node names the new owner") {
            try cluster.ports.allSatisfy { try cluster.owner(ofSlot: slot, accordingTo: $0) == target }
        }
        for key in keys { XCTAssertEqual(try harness.get(client, key)?.get(), bytes("m-" + key), key) }
        XCTAssertGreaterThan(counter(client.stats.movedRedirections), 0, "no MOVED after the slot moved")
        usleep(300_000)  // past the refresh interval: the last refresh saw every node agree
        let movedBefore = counter(client.stats.movedRedirections)
        for key in keys { XCTAssertEqual(try harness.get(client, key)?.get(), bytes("m-" + key), key) }
        XCTAssertLessThanOrEqual(
            counter(client.stats.movedRedirections) - movedBefore, 1, "MOVED did not teach the map")
        XCTAssertEqual(client.slotMap?.owner(ofSlot: slot)?.port, target)

        reader.stop()
        XCTAssertTrue(eventually { reader.finished.withLock { $0 } })
        let (done, failed) = reader.tally.withLock { ($0.done, $0.failed) }
        XCTAssertGreaterThan(done, 20, "the reader hardly ran")
        XCTAssertEqual(failed, [], "\(failed.count) of \(done) reads failed")
        XCTAssertGreaterThanOrEqual(counter(client.stats.slotMapRefreshes), 2)
    }

    func testPublishFromOneSeedReachesASubscriberSeededOnAnother() throws {
        let cluster = try sharedCluster()
        let publisher = startedClient(seed: cluster.ports[0])
        let listener = startedClient(seed: cluster.ports[1])
        let heard = Locked<[String]>([])
        let subscribed = Locked(false)
        let subscription = try XCTUnwrap(
            harness.subscribe(listener, ["cluster-news"]) { event in
                switch event {
                case .subscribed: subscribed.withLock { $0 = true }
                case .message(_, let payload): heard.withLock { $0.append(String(decoding: payload, as: UTF8.self)) }
                case .disconnected: break
                }
            })
        defer { subscription.cancel() }
        XCTAssertTrue(eventually { subscribed.withLock { $0 } })
        // PUBLISH goes to any master, in turn: each of them reaches the subscriber's node.
        for index in 0..<6 {
            let sent = harness.run { loop, done in
                publisher.publish("cluster-news", Array("n\(index)".utf8), on: loop) { done($0) }
            }
            XCTAssertNotNil(try sent?.get())
        }
        XCTAssertTrue(eventually { heard.withLock { $0.count } == 6 }, "heard \(heard.withLock { $0 })")
        XCTAssertEqual(Set(heard.withLock { $0 }), Set((0..<6).map { "n\($0)" }))
    }

    /// SIGKILL of the seed after start-up: keys of the other masters keep being read, the dead
    /// node's keys fail fast (a miss, well within the deadline), PING and PUBLISH find a live master,
    /// and the subscriber moves to another node (`resumed: true`).
    func testKillingTheSeedNodeLeavesTheOtherMastersServing() throws {
        let cluster = try RedisClusterProcess()
        ownCluster = cluster
        let seed = cluster.ports[0]
        let client = startedClient(seed: seed) { $0.commandTimeoutMilliseconds = 1_000 }
        let owners = try keysOnEveryMaster(cluster, prefix: "kill")
        for key in owners.keys { XCTAssertEqual(try harness.set(client, key, bytes("k-" + key))?.get(), true) }
        let events = Locked<[RedisSubscriptionEvent]>([])
        let subscription = try XCTUnwrap(
            harness.subscribe(client, ["after-kill"]) { event in events.withLock { $0.append(event) } })
        defer { subscription.cancel() }
        XCTAssertTrue(eventually { events.withLock { $0 } == [.subscribed(resumed: false)] })

        cluster.nodes[0].kill()
        let survivors = owners.filter { $0.value != seed }.map(\.key)
        let orphans = owners.filter { $0.value == seed }.map(\.key)
        // Across the node timeout (2 s), when the others mark the seed as failed.
        let end = Date().addingTimeInterval(3)
        var rounds = 0
        while Date() < end {
            rounds += 1
            for key in survivors { XCTAssertEqual(try harness.get(client, key)?.get(), bytes("k-" + key), key) }
            for key in orphans {
                let started = Date()
                guard case .failure = harness.get(client, key) else { return XCTFail("\(key) read from a dead node") }
                XCTAssertLessThan(Date().timeIntervalSince(started), 0.5, "\(key) hung")
            }
        }
        XCTAssertGreaterThan(rounds, 3)
        XCTAssertTrue(harness.waitUntilAnswering(client), "PING found no live master")
        XCTAssertTrue(
            eventually { events.withLock { $0 }.contains(.subscribed(resumed: true)) },
            "the subscriber did not move: \(events.withLock { $0 })")
        let sent = harness.run { loop, done in client.publish("after-kill", Array("hello".utf8), on: loop) { done($0) }
        }
        // The count is the receiving node's subscribers only; the message reaches every node.
        XCTAssertNotNil(try sent?.get())
        XCTAssertTrue(
            eventually {
                events.withLock { $0 }.contains(.message(channel: "after-kill", payload: Array("hello".utf8)))
            })
    }
}

/// Reads `keys` in turn on `loop`, one after the other, until stopped: the requests that run while
/// a slot migrates. Counts the reads and keeps every one that did not return the expected value.
final class ContinuousReader: Sendable {
    let client: RedisClient
    let keys: [String]
    let loop: EventLoop
    let expected: @Sendable (String) -> [UInt8]
    let tally = Locked((done: 0, failed: [String]()))
    let finished = Locked(false)
    private let running = Locked(true)

    init(client: RedisClient, keys: [String], loop: EventLoop, expected: @escaping @Sendable (String) -> [UInt8]) {
        self.client = client
        self.keys = keys
        self.loop = loop
        self.expected = expected
    }

    func start() { loop.execute { self.read(0) } }

    func stop() { running.withLock { $0 = false } }

    private func read(_ index: Int) {
        guard running.withLock({ $0 }) else { return finished.withLock { $0 = true } }
        let key = keys[index % keys.count]
        client.get(key, on: loop) { result in
            self.tally.withLock { tally in
                tally.done += 1
                if result != .success(self.expected(key)) { tally.failed.append("\(key): \(result)") }
            }
            // A turn of the loop between reads: a failure completing at once must not recurse.
            self.loop.execute { self.read(index + 1) }
        }
    }
}
