/// Where each entry of an `LRUShard` lives, found by its key's digest: an open-addressing table of
/// node slots (linear probing, at most 3/4 full, removal by backward shift so no tombstones are
/// left). Four bytes per place instead of a dictionary's copy of every key, and a lookup hashes
/// nothing: the key's digest was mixed, with a per-process seed, when the key was made.
struct SlotIndex {
    /// Node slots; -1 marks an empty place. The count is a power of two (or zero).
    private var places: [Int32] = []
    private(set) var count = 0

    /// The place and slot of the node `matches` accepts, probing from `hash`'s home place.
    func find(hash: UInt64, matches: (Int) -> Bool) -> (place: Int, slot: Int)? {
        guard !places.isEmpty else { return nil }
        let mask = places.count - 1
        var place = Self.home(hash, mask)
        while true {
            let slot = places[place]
            if slot < 0 { return nil }
            if matches(Int(slot)) { return (place, Int(slot)) }
            place = (place + 1) & mask
        }
    }

    /// Adds `slot` (not present yet); `hashOf` gives any present slot's hash when the table grows.
    mutating func insert(_ slot: Int, hash: UInt64, hashOf: (Int) -> UInt64) {
        if (count + 1) * 4 > places.count * 3 { grow(hashOf) }
        let mask = places.count - 1
        var place = Self.home(hash, mask)
        while places[place] >= 0 { place = (place + 1) & mask }
        places[place] = Int32(slot)
        count += 1
    }

    /// Empties the table, keeping its places.
    mutating func removeAll() {
        for place in places.indices { places[place] = -1 }
        count = 0
    }

    /// Points `place` at another slot with the same hash (a group's new first node).
    mutating func update(at place: Int, to slot: Int) { places[place] = Int32(slot) }

    /// Empties `place` and moves later members of its probe run back, so every slot stays
    /// reachable from its home place.
    mutating func remove(at place: Int, hashOf: (Int) -> UInt64) {
        let mask = places.count - 1
        var hole = place
        var next = (hole + 1) & mask
        while places[next] >= 0 {
            let home = Self.home(hashOf(Int(places[next])), mask)
            // It may move back into the hole unless its home lies after the hole (on the way to it).
            if (next - home) & mask >= (next - hole) & mask {
                places[hole] = places[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        places[hole] = -1
        count -= 1
    }

    private mutating func grow(_ hashOf: (Int) -> UInt64) {
        let old = places
        places = [Int32](repeating: -1, count: max(16, old.count * 2))
        count = 0
        let mask = places.count - 1
        for slot in old where slot >= 0 {
            var place = Self.home(hashOf(Int(slot)), mask)
            while places[place] >= 0 { place = (place + 1) & mask }
            places[place] = slot
            count += 1
        }
    }

    @inline(__always) private static func home(_ hash: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: hash ^ hash >> 32) & mask
    }
}
