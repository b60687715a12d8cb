import Foundation
import Locking
import Redis

/// A Redis Cluster in memory: several `RedisMemoryServer`s on loopback ports, each owning slot
/// ranges, for the fleet's cluster cases in process. Every node answers `CLUSTER SHARDS` (Redis 7's
/// RESP2 shape, as `Tests/Fixtures/RedisCluster/cluster-shards.resp`) and `CLUSTER SLOTS` with the
/// whole layout; a keyed command for a slot the node does not own answers `MOVED slot
/// 127.0.0.1:PORT`; while a slot migrates, its owner sends a key it no longer holds on with
/// `ASK slot 127.0.0.1:PORT`, and the importing node takes it only right after `ASKING`. A message
/// published on any node reaches the subscribers of every node (the cluster bus).
///
/// One layout for the whole cluster, where a real one has a view per node: a slot's new owner is
/// known to every node at once (`finishMigration`), which is the end state of a resharding's
/// `CLUSTER SETSLOT … NODE` on each node. A stopped node's slots stay its own, as in a cluster that
/// has not failed the node over (and does not require full coverage): they read as errors.
final class RedisMemoryCluster: Sendable {
    /// What a node knows of its cluster: the shared layout and which node it is.
    struct Node: Sendable {
        let board: Board
        let index: Int

        /// Why this node does not run `arguments` here (MOVED, ASK, CROSSSLOT, TRYAGAIN…), or nil.
        /// `exists`: whether this node holds a key, asked under its lock.
        func refusal(for arguments: [[UInt8]], name: String, asking: Bool, exists: (String) -> Bool) -> String? {
            guard RedisMemoryCluster.keyed.contains(name), arguments.count > 1 else { return nil }
            let keys = RedisMemoryCluster.allKeys.contains(name) ? Array(arguments.dropFirst()) : [arguments[1]]
            let slots = Set(keys.map { HashSlot.of(bytes: $0) })
            guard slots.count == 1, let slot = slots.first else {
                return "CROSSSLOT Keys in request don't hash to the same slot"
            }
            let missing = keys.filter { !exists(String(decoding: $0, as: UTF8.self)) }.count
            return board.refusal(slot: slot, node: index, asking: asking, missing: missing, of: keys.count)
        }
    }

    /// The layout every node reads, and the nodes, for the bus.
    final class Board: Sendable {
        struct Layout {
            /// Per slot, the index of its owner; nil for none.
            var owners = [Int?](repeating: nil, count: HashSlot.count)
            /// Slots being migrated, and the node importing each.
            var migrating: [Int: Int] = [:]
            var ports: [UInt16] = []
            var stopped: Set<Int> = []
        }

        let layout = Locked(Layout())
        let servers = Locked<[RedisMemoryServer]>([])

        func refusal(slot: Int, node: Int, asking: Bool, missing: Int, of count: Int) -> String? {
            layout.withLock { layout in
                guard let owner = layout.owners[slot] else { return "CLUSTERDOWN Hash slot not served" }
                let importer = layout.migrating[slot]
                if owner == node {
                    guard let importer, missing > 0 else { return nil }
                    guard missing == count else { return "TRYAGAIN Multiple keys request during rehashing of slot" }
                    return "ASK \(slot) 127.0.0.1:\(layout.ports[importer])"
                }
                if asking, importer == node {
                    return missing == 0 || missing == count
                        ? nil : "TRYAGAIN Multiple keys request during rehashing of slot"
                }
                return "MOVED \(slot) 127.0.0.1:\(layout.ports[owner])"
            }
        }

        func deliver(_ message: [UInt8], on channel: String, from node: Int) {
            let others = servers.withLock { servers in servers.enumerated().filter { $0.offset != node } }
            let stopped = layout.withLock { $0.stopped }
            for (index, server) in others where !stopped.contains(index) { server.deliver(message, on: channel) }
        }

        /// `CLUSTER` with its subcommand and arguments.
        func answer(cluster arguments: [String]) -> RESPValue {
            switch arguments[0].uppercased() {
            case "SHARDS" where arguments.count == 1: return shards()
            case "SLOTS" where arguments.count == 1: return slots()
            case "KEYSLOT" where arguments.count == 2: return .integer(Int64(HashSlot.of(arguments[1])))
            default:
                return .error(
                    "ERR unknown subcommand '\(arguments[0].prefix(128))'. Try CLUSTER HELP.")
            }
        }

        /// Each node's slot ranges, in node order (a node without slots has none).
        func ranges() -> [[ClosedRange<Int>]] {
            layout.withLock { layout in
                var ranges = [[ClosedRange<Int>]](repeating: [], count: layout.ports.count)
                var start = 0
                while start < HashSlot.count {
                    var end = start
                    while end + 1 < HashSlot.count, layout.owners[end + 1] == layout.owners[start] { end += 1 }
                    if let owner = layout.owners[start] { ranges[owner].append(start...end) }
                    start = end + 1
                }
                return ranges
            }
        }

        private func bulk(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }

        private func shards() -> RESPValue {
            let (ports, stopped) = layout.withLock { ($0.ports, $0.stopped) }
            let shards = zip(ports.indices, ranges()).map { index, ranges -> RESPValue in
                let node: [RESPValue] = [
                    bulk("id"), bulk(RedisMemoryCluster.id(of: index)), bulk("port"), .integer(Int64(ports[index])),
                    bulk("ip"), bulk("127.0.0.1"), bulk("endpoint"), bulk("127.0.0.1"), bulk("role"), bulk("master"),
                    bulk("replication-offset"), .integer(0), bulk("health"),
                    bulk(stopped.contains(index) ? "fail" : "online"),
                ]
                let bounds = ranges.flatMap {
                    [RESPValue.integer(Int64($0.lowerBound)), .integer(Int64($0.upperBound))]
                }
                return .array([bulk("slots"), .array(bounds), bulk("nodes"), .array([.array(node)])])
            }
            return .array(shards)
        }

        private func slots() -> RESPValue {
            let ports = layout.withLock { $0.ports }
            var entries: [RESPValue] = []
            for (index, ranges) in ranges().enumerated() {
                for range in ranges {
                    let node: RESPValue = .array([
                        bulk("127.0.0.1"), .integer(Int64(ports[index])), bulk(RedisMemoryCluster.id(of: index)),
                        .array([]),
                    ])
                    entries.append(
                        .array([.integer(Int64(range.lowerBound)), .integer(Int64(range.upperBound)), node]))
                }
            }
            return .array(entries)
        }
    }

    /// Commands with keys, and those whose every argument is one.
    static let keyed: Set<String> = ["GET", "SET", "DEL", "EXISTS", "SADD", "SMEMBERS", "PEXPIRE", "PTTL"]
    static let allKeys: Set<String> = ["DEL", "EXISTS"]

    /// A node's 40-hex-digit ID, as `CLUSTER SHARDS` names it.
    static func id(of node: Int) -> String { String(repeating: String(format: "%02x", node + 0xa0), count: 20) }

    let nodes: [RedisMemoryServer]
    private let board = Board()

    /// `count` masters, the slots split as `redis-cli --cluster create` splits them (the fixture's
    /// 0–5460, 5461–10922, 10923–16383 for three). `clock` is every node's.
    init(
        nodes count: Int = 3, password: String? = nil,
        clock: @escaping @Sendable () -> Int64 = RedisMemoryServer.monotonicMilliseconds
    ) {
        precondition(count > 0)
        let board = board
        nodes = (0..<count).map {
            RedisMemoryServer(password: password, clock: clock, node: Node(board: board, index: $0))
        }
        let ports = nodes.map(\.port)
        board.layout.withLock { layout in
            layout.ports = ports
            var start = 0
            for node in 0..<count {
                let share = Double(node + 1) * Double(HashSlot.count) / Double(count)
                let end = node == count - 1 ? HashSlot.count - 1 : Int((share - 1).rounded())
                for slot in start...end { layout.owners[slot] = node }
                start = end + 1
            }
        }
        board.servers.withLock { $0 = nodes }
    }

    var ports: [UInt16] { nodes.map(\.port) }

    /// The URL that seeds a client with node `index` only.
    func url(ofNode index: Int) -> RedisURL { nodes[index].url }

    /// The index of the node owning `slot`, nil for none.
    func owner(ofSlot slot: Int) -> Int? { board.layout.withLock { $0.owners[slot] } }

    /// The index of the node owning `key`'s slot.
    func owner(ofKey key: String) -> Int? { owner(ofSlot: HashSlot.of(key)) }

    /// Each node's slot ranges, in node order.
    var slotRanges: [[ClosedRange<Int>]] { board.ranges() }

    // MARK: resharding, in the real cluster's steps

    /// `CLUSTER SETSLOT slot IMPORTING` on `target` and `MIGRATING` on the owner: from now on the
    /// owner answers ASK for a key of the slot it does not hold.
    func beginMigration(slot: Int, to target: Int) {
        board.layout.withLock { layout in
            precondition(layout.owners[slot] != nil && layout.owners[slot] != target, "slot \(slot) to \(target)")
            layout.migrating[slot] = target
        }
    }

    /// `MIGRATE … KEYS`: moves up to `limit` of the slot's keys (all by default, sorted by name)
    /// from its owner to the importing node; the names moved.
    @discardableResult
    func moveKeys(slot: Int, limit: Int = .max) -> [String] {
        let (owner, target) = board.layout.withLock { layout in (layout.owners[slot], layout.migrating[slot]) }
        guard let owner, let target else { preconditionFailure("slot \(slot) is not migrating") }
        let moving = Array(nodes[owner].keys(inSlot: slot).prefix(limit))
        nodes[owner].move(moving, to: nodes[target])
        return moving
    }

    /// `CLUSTER SETSLOT slot NODE target` everywhere: the importing node owns the slot, the old
    /// owner answers MOVED. Keys still on the old owner are moved first, as a resharding does.
    func finishMigration(slot: Int) {
        moveKeys(slot: slot)
        board.layout.withLock { layout in
            guard let target = layout.migrating.removeValue(forKey: slot) else { return }
            layout.owners[slot] = target
        }
    }

    /// All three steps at once.
    func migrate(slot: Int, to target: Int) {
        beginMigration(slot: slot, to: target)
        moveKeys(slot: slot)
        finishMigration(slot: slot)
    }

    /// Slots reassigned without their keys (a test's layout before any client starts).
    func assign(slots: ClosedRange<Int>, to node: Int) {
        board.layout.withLock { layout in for slot in slots { layout.owners[slot] = node } }
    }

    /// Kills node `index` (its keys die with it); its slots stay its own, so they read as errors.
    func stop(node index: Int) {
        board.layout.withLock { _ = $0.stopped.insert(index) }
        nodes[index].stop()
    }

    func isStopped(_ index: Int) -> Bool { board.layout.withLock { $0.stopped.contains(index) } }

    func stop() {
        for index in nodes.indices { stop(node: index) }
        board.servers.withLock { $0 = [] }  // the nodes and the board hold each other
    }

    // MARK: inspecting, over every running node

    /// The live keys of every running node that start with `prefix`, sorted.
    func keys(matching prefix: String = "") -> [String] {
        nodes.indices.filter { !isStopped($0) }.flatMap { nodes[$0].keys(matching: prefix) }.sorted()
    }

    /// The node indexes holding `key` (one, unless a migration is halfway through a copy).
    func holders(of key: String) -> [Int] {
        nodes.indices.filter { !isStopped($0) && nodes[$0].keys(matching: key).contains(key) }
    }

    /// A string's value on whichever running node holds it.
    func value(of key: String) -> [UInt8]? {
        for index in nodes.indices where !isStopped(index) {
            if let value = nodes[index].value(of: key) { return value }
        }
        return nil
    }

    /// Subscribers of `channel` on every running node.
    func subscribers(of channel: String) -> Int {
        nodes.indices.filter { !isStopped($0) }.map { nodes[$0].subscribers(of: channel) }.reduce(0, +)
    }
}
