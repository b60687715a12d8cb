import Foundation
import XCTest

@testable import Redis
@testable import TestSupport

/// The pure side of Redis Cluster support: CRC16 and hash tags as the cluster spec has them, slot
/// maps read from real `CLUSTER SHARDS` and `CLUSTER SLOTS` replies (captured from a 3-master
/// redis-server 7.0 cluster, Tests/Fixtures/RedisCluster), MOVED and ASK read as data, and which
/// commands are split by slot.
final class RedisClusterSlotsTests: XCTestCase {
    func testCRC16XModemVectors() {
        XCTAssertEqual(HashSlot.crc16(Array("123456789".utf8)[...]), 0x31C3)
        XCTAssertEqual(HashSlot.crc16([][...]), 0)
        XCTAssertEqual(HashSlot.count, 16_384)
        // Slots a real cluster gave (`MOVED 12182` for foo; the spec's CLUSTER KEYSLOT example).
        XCTAssertEqual(HashSlot.of("foo"), 12182)
        XCTAssertEqual(HashSlot.of("somekey"), 11058)
        XCTAssertEqual(HashSlot.of("123456789"), 0x31C3 % 16_384)
    }

    func testHashTagsFollowTheSpec() {
        XCTAssertEqual(HashSlot.of("{user1000}.following"), HashSlot.of("{user1000}.followers"))
        XCTAssertEqual(HashSlot.of("{user1000}.following"), HashSlot.of("user1000"))
        // The first `{` and the next `}`: only "bar" of foo{bar}{zap}.
        XCTAssertEqual(HashSlot.of("foo{bar}{zap}"), HashSlot.of("bar"))
        // An empty tag hashes the whole key.
        XCTAssertEqual(HashSlot.hashedPart(of: Array("foo{}{bar}".utf8)), Array("foo{}{bar}".utf8)[...])
        XCTAssertNotEqual(HashSlot.of("foo{}{bar}"), HashSlot.of("bar"))
        // The tag starts after the first `{`: "{bar".
        XCTAssertEqual(HashSlot.hashedPart(of: Array("foo{{bar}}zap".utf8)), Array("{bar".utf8)[...])
        XCTAssertEqual(HashSlot.of("foo{{bar}}zap"), HashSlot.of("{bar"))
        // No closing brace: the whole key.
        XCTAssertEqual(HashSlot.hashedPart(of: Array("foo{bar".utf8)), Array("foo{bar".utf8)[...])
        XCTAssertEqual(HashSlot.of("a}{b}"), HashSlot.of("b"))
        // The fleet's keys keep an account in one slot.
        XCTAssertEqual(HashSlot.of("sg:{AC1}:e:/v2/Flows"), HashSlot.of("sg:{AC1}:lease:/v2/Flows"))
        XCTAssertEqual(HashSlot.of(bytes: Array("x{AC1}y".utf8)), HashSlot.of("AC1"))
    }

    func fixture(_ name: String) throws -> RESPValue {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/RedisCluster/\(name)")
        var parser = RESPParser()
        parser.feed(Array(try Data(contentsOf: url)))
        return try XCTUnwrap(try parser.next(), "\(name) holds no reply")
    }

    let node1 = RedisNodeAddress(host: "127.0.0.1", port: 17001)
    let node2 = RedisNodeAddress(host: "127.0.0.1", port: 17002)
    let node3 = RedisNodeAddress(host: "127.0.0.1", port: 17003)

    func assertTheCapturedLayout(_ map: SlotMap?, file: StaticString = #filePath, line: UInt = #line) {
        guard let map else { return XCTFail("not parsed", file: file, line: line) }
        XCTAssertEqual(map.ownedSlotCount, 16_384, file: file, line: line)
        XCTAssertEqual(Set(map.masters), [node1, node2, node3], file: file, line: line)
        XCTAssertEqual(Set(map.nodes), [node1, node2, node3], file: file, line: line)
        for (slot, owner) in [(0, node1), (5460, node1), (5461, node2), (10922, node2), (10923, node3), (16383, node3)]
        {
            XCTAssertEqual(map.owner(ofSlot: slot), owner, "slot \(slot)", file: file, line: line)
        }
        XCTAssertEqual(map.owner(ofKey: "foo"), node3, file: file, line: line)
    }

    func testARealClusterShardsReply() throws {
        assertTheCapturedLayout(SlotMap(clusterShards: try fixture("cluster-shards.resp"), askedHost: "seed"))
    }

    func testARealClusterSlotsReply() throws {
        assertTheCapturedLayout(SlotMap(clusterSlots: try fixture("cluster-slots.resp"), askedHost: "seed"))
    }

    /// A shard with a replica (listed first), an empty endpoint (the node asked) and a node of unknown
    /// address; a second range of slots; slots nobody owns.
    func testShardsWithReplicasAndGaps() {
        func text(_ value: String) -> RESPValue { .bulkString(Array(value.utf8)) }
        func node(_ endpoint: String, _ port: Int64, role: String) -> RESPValue {
            .array([
                text("id"), text("x"), text("port"), .integer(port), text("ip"), text(endpoint), text("endpoint"),
                text(endpoint), text("role"), text(role), text("replication-offset"), .integer(1_234_567_890_123),
                text("health"), text("online"),
            ])
        }
        let reply = RESPValue.array([
            .array([
                text("slots"), .array([.integer(0), .integer(99), .integer(200), .integer(299)]), text("nodes"),
                .array([node("10.0.0.2", 6380, role: "replica"), node("", 6379, role: "master")]),
            ]),
            .array([
                text("slots"), .array([.integer(100), .integer(149)]), text("nodes"),
                .array([node("?", 6379, role: "replica"), node("10.0.0.3", 6379, role: "master")]),
            ]),
        ])
        let map = SlotMap(clusterShards: reply, askedHost: "10.0.0.1")
        let seed = RedisNodeAddress(host: "10.0.0.1", port: 6379)
        let other = RedisNodeAddress(host: "10.0.0.3", port: 6379)
        XCTAssertEqual(map?.masters, [seed, other])
        XCTAssertEqual(Set(map?.nodes ?? []), [RedisNodeAddress(host: "10.0.0.2", port: 6380), seed, other])
        XCTAssertEqual(map?.owner(ofSlot: 250), seed)
        XCTAssertEqual(map?.owner(ofSlot: 120), other)
        XCTAssertNil(map?.owner(ofSlot: 150))
        XCTAssertNil(map?.owner(ofSlot: 16383))
        XCTAssertEqual(map?.ownedSlotCount, 250)
        XCTAssertNil(SlotMap(clusterShards: .error("ERR"), askedHost: "x"))
        // Over TLS a node's tls-port is the one dialled (tls-cluster yes lists both).
        let tlsNode = RESPValue.array([
            text("port"), .integer(6379), text("tls-port"), .integer(6380), text("endpoint"), text("10.0.0.9"),
            text("role"), text("master"),
        ])
        let tlsReply = RESPValue.array([
            .array([text("slots"), .array([.integer(0), .integer(16383)]), text("nodes"), .array([tlsNode])])
        ])
        XCTAssertEqual(
            SlotMap(clusterShards: tlsReply, askedHost: "x", tls: true)?.masters,
            [RedisNodeAddress(host: "10.0.0.9", port: 6380)])
        XCTAssertEqual(
            SlotMap(clusterShards: tlsReply, askedHost: "x")?.masters, [RedisNodeAddress(host: "10.0.0.9", port: 6379)])
        XCTAssertNil(SlotMap(clusterShards: .array([.array([text("slots")])]), askedHost: "x"))
        XCTAssertNil(SlotMap(clusterSlots: .array([.integer(1)]), askedHost: "x"))
    }

    func testAMovedSlotChangesOwner() {
        var map = SlotMap(ranges: [(0...16383, node1)])
        let newcomer = RedisNodeAddress(host: "127.0.0.1", port: 17009)
        map.assign(slot: 42, to: newcomer)
        XCTAssertEqual(map.owner(ofSlot: 42), newcomer)
        XCTAssertEqual(map.owner(ofSlot: 43), node1)
        XCTAssertEqual(map.masters, [node1, newcomer])
        map.assign(slot: 16_384, to: node2)  // out of range: ignored
        XCTAssertEqual(map.masters, [node1, newcomer])
    }

    func testMovedAndAskReplies() {
        XCTAssertEqual(Redirection(errorReply: "MOVED 12182 127.0.0.1:17003"), .moved(slot: 12182, to: node3))
        XCTAssertEqual(Redirection(errorReply: "ASK 3999 127.0.0.1:17002"), .ask(slot: 3999, to: node2))
        // An empty host: the node that answered.
        XCTAssertEqual(Redirection(errorReply: "MOVED 1 :17001", askedHost: "127.0.0.1"), .moved(slot: 1, to: node1))
        XCTAssertEqual(
            Redirection(errorReply: "ASK 7 [::1]:6379"), .ask(slot: 7, to: RedisNodeAddress(host: "::1", port: 6379)))
        XCTAssertEqual(
            Redirection(errorReply: "MOVED 7 redis-2.cache.internal:6379"),
            .moved(slot: 7, to: RedisNodeAddress(host: "redis-2.cache.internal", port: 6379)))
        for other in [
            "ERR unknown command", "MOVED", "MOVED 16384 127.0.0.1:1", "MOVED x 127.0.0.1:1", "ASK 1 127.0.0.1",
            "ASK 1 127.0.0.1:0", "TRYAGAIN Multiple keys request during rehashing of slot",
            "CLUSTERDOWN The cluster is down", "MOVEDX 1 a:1",
        ] {
            XCTAssertNil(Redirection(errorReply: other), other)
        }
    }

    func testWhichCommandsHaveAKeyAndWhichAreSplit() {
        XCTAssertEqual(CommandKeys.slot(of: .get("foo")), 12182)
        XCTAssertEqual(CommandKeys.slot(of: RedisCommand(["SADD", "{AC1}:g", "m"])), HashSlot.of("AC1"))
        XCTAssertEqual(CommandKeys.slot(of: .set("foo", [1], expireMilliseconds: 5)), 12182)
        XCTAssertNil(CommandKeys.slot(of: .ping))
        XCTAssertNil(CommandKeys.slot(of: .publish("foo", [1])))
        XCTAssertNil(CommandKeys.splitBySlot(.delete(["{a}1", "{a}2"])), "one slot: sent as it is")
        XCTAssertNil(CommandKeys.splitBySlot(.get("foo")))
        let split = CommandKeys.splitBySlot(.delete(["{a}1", "{b}1", "{a}2"]))
        XCTAssertEqual(split, [.delete(["{a}1", "{a}2"]), .delete(["{b}1"])])
    }
}
