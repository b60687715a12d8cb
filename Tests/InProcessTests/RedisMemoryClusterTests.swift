import Foundation
import Glibc
import XCTest

@testable import Redis
@testable import TestSupport

/// The in-memory cluster on the wire, as the client and a plain connection see it: a single node
/// says it has no cluster support (the client stays a single-node client); every node of the
/// cluster describes the whole layout in `CLUSTER SHARDS`' RESP2 shape; MOVED, ASK, ASKING and
/// CROSSSLOT as Redis Cluster answers them; pub/sub across nodes.
final class RedisMemoryClusterTests: XCTestCase {
    /// One plain connection: commands in, replies out, in order.
    final class Connection {
        let raw: RawClient
        var parser = RESPParser()

        init(port: UInt16) throws { raw = try RawClient(port: port, timeout: 5) }

        func call(_ arguments: String...) throws -> RESPValue {
            var bytes: [UInt8] = []
            RESPEncoder.append(RedisCommand(arguments.map { .string($0) }), to: &bytes)
            raw.send(bytes)
            return try reply()
        }

        func reply() throws -> RESPValue {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                if let value = try parser.next() { return value }
                let count = chunk.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { throw RawClient.Closed() }
                chunk.withUnsafeBytes { parser.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            }
        }
    }

    func bulk(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }

    func testASingleNodeHasNoClusterSupportAndTheClientStaysASingleNodeClient() throws {
        let server = RedisMemoryServer()
        defer { server.stop() }
        let connection = try Connection(port: server.port)
        let disabled = RESPValue.error("ERR This instance has cluster support disabled")
        XCTAssertEqual(try connection.call("CLUSTER", "SHARDS"), disabled)
        XCTAssertEqual(try connection.call("ASKING"), disabled)
        XCTAssertEqual(try connection.call("SELECT", "3"), .simpleString("OK"))
        let harness = try RedisLoopHarness()
        defer { harness.shutdown() }
        let client = RedisClient(url: server.url)
        client.start(on: harness.group.loops)
        try waitUntil("the client found out") { client.isCluster != nil }
        XCTAssertEqual(client.isCluster, false)
    }

    func testEveryNodeDescribesTheWholeLayoutAsRedis7Does() throws {
        let cluster = RedisMemoryCluster()
        defer { cluster.stop() }
        XCTAssertEqual(cluster.slotRanges, [[0...5460], [5461...10922], [10923...16383]], "as redis-cli splits them")
        for port in cluster.ports {
            let reply = try Connection(port: port).call("CLUSTER", "SHARDS")
            let map = try XCTUnwrap(SlotMap(clusterShards: reply, askedHost: "127.0.0.1"))
            XCTAssertEqual(map.ownedSlotCount, HashSlot.count)
            for (slot, node) in [(0, 0), (5460, 0), (5461, 1), (10922, 1), (10923, 2), (16383, 2)] {
                XCTAssertEqual(map.owner(ofSlot: slot)?.port, cluster.ports[node], "slot \(slot)")
            }
            // The captured reply's field names, in its order.
            guard case .array(let shards?) = reply, case .array(let shard?) = shards[0],
                case .array(let nodes?) = shard[3], case .array(let fields?) = nodes[0]
            else { return XCTFail("\(reply)") }
            XCTAssertEqual(shard[0], bulk("slots"))
            XCTAssertEqual(shard[2], bulk("nodes"))
            XCTAssertEqual(
                stride(from: 0, to: fields.count, by: 2).map { fields[$0] },
                ["id", "port", "ip", "endpoint", "role", "replication-offset", "health"].map(bulk))
            let slots = try XCTUnwrap(
                SlotMap(clusterSlots: try Connection(port: port).call("CLUSTER", "SLOTS"), askedHost: ""))
            XCTAssertEqual(slots, map)
        }
    }

    func testMovedAskAndAskingAsRedisClusterAnswersThem() throws {
        let cluster = RedisMemoryCluster()
        defer { cluster.stop() }
        let key = "{FN1}:e:x"
        let slot = HashSlot.of(key)
        let owner = try XCTUnwrap(cluster.owner(ofSlot: slot))
        let (target, other) = ((owner + 1) % 3, (owner + 2) % 3)
        let (atOwner, atTarget, atOther) = (
            try Connection(port: cluster.ports[owner]), try Connection(port: cluster.ports[target]),
            try Connection(port: cluster.ports[other])
        )
        XCTAssertEqual(try atOther.call("SET", key, "v"), .error("MOVED \(slot) 127.0.0.1:\(cluster.ports[owner])"))
        XCTAssertEqual(try atOwner.call("SET", key, "v"), .simpleString("OK"))
        XCTAssertEqual(try atOwner.call("SET", "{FN1}:e:y", "w"), .simpleString("OK"))
        XCTAssertEqual(
            try atOwner.call("DEL", key, "{FN2}:e:x"), .error("CROSSSLOT Keys in request don't hash to the same slot"))

        cluster.beginMigration(slot: slot, to: target)
        XCTAssertEqual(try atOwner.call("GET", key), bulk("v"), "a key still here is answered here")
        XCTAssertEqual(cluster.moveKeys(slot: slot, limit: 1), [key])
        let ask = RESPValue.error("ASK \(slot) 127.0.0.1:\(cluster.ports[target])")
        XCTAssertEqual(try atOwner.call("GET", key), ask)
        XCTAssertEqual(
            try atOwner.call("DEL", key, "{FN1}:e:y"), .error("TRYAGAIN Multiple keys request during rehashing of slot")
        )
        XCTAssertEqual(try atOwner.call("GET", "{FN1}:e:new"), .error("ASK \(slot) 127.0.0.1:\(cluster.ports[target])"))
        let moved = RESPValue.error("MOVED \(slot) 127.0.0.1:\(cluster.ports[owner])")
        XCTAssertEqual(try atTarget.call("GET", key), moved, "the importing node refuses a key asked without ASKING")
        XCTAssertEqual(try atTarget.call("ASKING"), .simpleString("OK"))
        XCTAssertEqual(try atTarget.call("GET", key), bulk("v"))
        XCTAssertEqual(try atTarget.call("GET", key), moved, "ASKING counts for one command")
        XCTAssertEqual(try atOther.call("ASKING"), .simpleString("OK"))
        XCTAssertEqual(try atOther.call("GET", key), moved, "ASKING on a node that is not importing")

        cluster.finishMigration(slot: slot)
        XCTAssertEqual(cluster.holders(of: "{FN1}:e:y"), [target], "the rest moved with the owner")
        XCTAssertEqual(try atOwner.call("GET", key), .error("MOVED \(slot) 127.0.0.1:\(cluster.ports[target])"))
        XCTAssertEqual(try atTarget.call("GET", key), bulk("v"))
        XCTAssertEqual(try atTarget.call("SELECT", "1"), .error("ERR SELECT is not allowed in cluster mode"))
    }

    func testAMessagePublishedOnOneNodeReachesEveryNodesSubscribers() throws {
        let cluster = RedisMemoryCluster()
        defer { cluster.stop() }
        let listeners = try cluster.ports.map { try Connection(port: $0) }
        for listener in listeners {
            XCTAssertEqual(
                try listener.call("SUBSCRIBE", "news"), .array([bulk("subscribe"), bulk("news"), .integer(1)]))
        }
        XCTAssertEqual(
            try Connection(port: cluster.ports[1]).call("PUBLISH", "news", "hi"), .integer(1), "this node's own")
        for listener in listeners {
            XCTAssertEqual(try listener.reply(), .array([bulk("message"), bulk("news"), bulk("hi")]))
        }
        cluster.stop(node: 0)
        XCTAssertEqual(cluster.subscribers(of: "news"), 2)
        XCTAssertEqual(try Connection(port: cluster.ports[2]).call("PUBLISH", "news", "again"), .integer(1))
        XCTAssertEqual(try listeners[1].reply(), .array([bulk("message"), bulk("news"), bulk("again")]))
    }
}
