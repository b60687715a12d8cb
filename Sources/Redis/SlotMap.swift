/// Which master serves each of the 16384 slots, as data: built from a `CLUSTER SHARDS` or
/// `CLUSTER SLOTS` reply (see `SlotMap+Parsing.swift`), patched by a MOVED, asked per command.
/// A slot nobody serves has no owner: its commands fail at once (`.slotUnowned`).
public struct SlotMap: Sendable, Equatable {
    /// The masters that own at least one slot, in the order learnt.
    public private(set) var masters: [RedisNodeAddress] = []
    /// Every node the reply named, replicas included: who can be asked for the map again.
    public private(set) var nodes: [RedisNodeAddress] = []
    /// Per slot, an index into `masters`, or `unowned`.
    private var owners = [UInt16](repeating: SlotMap.unowned, count: HashSlot.count)
    private static let unowned = UInt16.max

    public init() {}

    /// `ranges`: slot ranges and the master serving each.
    public init(ranges: [(slots: ClosedRange<Int>, master: RedisNodeAddress)], nodes: [RedisNodeAddress] = []) {
        for (slots, master) in ranges {
            for slot in slots.clamped(to: 0...(HashSlot.count - 1)) { assign(slot: slot, to: master) }
        }
        for node in nodes { learn(node) }
    }

    public func owner(ofSlot slot: Int) -> RedisNodeAddress? {
        let index = owners[slot]
        return index == Self.unowned ? nil : masters[Int(index)]
    }

    public func owner(ofKey key: String) -> RedisNodeAddress? { owner(ofSlot: HashSlot.of(key)) }

    /// Slots that have an owner (16384 when the cluster covers them all).
    public var ownedSlotCount: Int { owners.count { $0 != Self.unowned } }

    /// What a MOVED says: `slot` is `master`'s now.
    public mutating func assign(slot: Int, to master: RedisNodeAddress) {
        guard (0..<HashSlot.count).contains(slot) else { return }
        let index: Int
        if let known = masters.firstIndex(of: master) {
            index = known
        } else {
            index = masters.count
            masters.append(master)
        }
        learn(master)
        owners[slot] = UInt16(index)
    }

    mutating func learn(_ node: RedisNodeAddress) {
        if !nodes.contains(node) { nodes.append(node) }
    }
}
