/// One shard of the response cache: an array of nodes (no per-node allocations) threaded by two
/// intrusive doubly linked lists — the LRU order, and each group's members (for invalidation) —
/// and two `SlotIndex`es that find a key's node and a group's first node. Links are 32-bit slot
/// numbers: a node is its key, its entry and 20 bytes. Not thread-safe: `ResponseCache` holds
/// each shard behind its own mutex.
struct LRUShard {
    private struct Node {
        var key: CacheKey
        var value: CachedResponse
        var cost: Int32
        var newer: Int32
        var older: Int32
        /// Neighbours in the same group's list.
        var groupNext: Int32
        var groupPrevious: Int32
    }

    private var index = SlotIndex()
    /// group → first node of its list (entries of any account).
    private var groupIndex = SlotIndex()
    private var nodes: [Node?] = []
    private var freeSlots: [Int32] = []
    private var newest: Int32 = -1
    private var oldest: Int32 = -1
    let budget: Int
    private(set) var bytes = 0
    private(set) var evictions = 0
    var count: Int { index.count }

    init(budget: Int) { self.budget = budget }

    /// The entry (fresh or not) and marks it most recently used.
    mutating func get(_ key: CacheKey) -> CachedResponse? {
        guard let slot = find(key)?.slot else { return nil }
        moveToFront(Int32(slot))
        return nodes[slot]!.value
    }

    /// Stores `value`, evicting least recently used entries to stay within budget.
    /// Returns false (and stores nothing) when the entry alone is larger than the shard's budget
    /// (or than a node can count, 2 GiB).
    @discardableResult
    mutating func put(_ key: CacheKey, _ value: CachedResponse) -> Bool {
        let cost = value.cost(for: key)
        remove(key)
        guard cost <= budget, cost <= Int(Int32.max) else { return false }
        while bytes + cost > budget, oldest >= 0 {
            remove(nodes[Int(oldest)]!.key)
            evictions += 1
        }
        let slot = freeSlots.popLast() ?? Int32(nodes.count)
        let head = findGroup(key.group)
        let node = Node(
            key: key, value: value, cost: Int32(cost), newer: -1, older: newest, groupNext: head?.slot ?? -1,
            groupPrevious: -1)
        if Int(slot) == nodes.count { nodes.append(node) } else { nodes[Int(slot)] = node }
        if newest >= 0 { nodes[Int(newest)]!.newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
        if let head {
            nodes[Int(head.slot)]!.groupPrevious = slot
            groupIndex.update(at: head.place, to: Int(slot))
        } else {
            groupIndex.insert(Int(slot), hash: Self.hash(key.group), hashOf: groupHash)
        }
        index.insert(Int(slot), hash: key.digest, hashOf: keyHash)
        bytes += cost
        return true
    }

    /// Replaces `key`'s entry only if it still is `old` (it may have been evicted or refreshed meanwhile).
    mutating func replace(_ key: CacheKey, _ old: CachedResponse, with new: CachedResponse) {
        guard let slot = find(key)?.slot, nodes[slot]!.value === old else { return }
        put(key, new)
    }

    mutating func remove(_ key: CacheKey) {
        guard let (place, found) = find(key) else { return }
        let slot = Int32(found)
        unlink(slot)
        let node = nodes[found]!
        if node.groupNext >= 0 { nodes[Int(node.groupNext)]!.groupPrevious = node.groupPrevious }
        if node.groupPrevious >= 0 {
            nodes[Int(node.groupPrevious)]!.groupNext = node.groupNext
        } else if let head = findGroup(key.group) {
            // The group's first node: its successor leads the group now, or the group is gone.
            if node.groupNext >= 0 {
                groupIndex.update(at: head.place, to: Int(node.groupNext))
            } else {
                groupIndex.remove(at: head.place, hashOf: groupHash)
            }
        }
        index.remove(at: place, hashOf: keyHash)
        bytes -= Int(node.cost)
        nodes[found] = nil
        freeSlots.append(slot)
    }

    /// Removes the group's entries (of every account) that match `predicate`; returns how many.
    @discardableResult
    mutating func removeGroup(_ group: CacheGroup, where predicate: (CacheKey, CachedResponse) -> Bool) -> Int {
        var victims: [CacheKey] = []
        var slot = findGroup(group)?.slot ?? -1
        while slot >= 0, let node = nodes[Int(slot)] {
            if predicate(node.key, node.value) { victims.append(node.key) }
            slot = node.groupNext
        }
        for key in victims { remove(key) }
        return victims.count
    }

    /// Every entry, least recently used first.
    func entriesOldestFirst() -> [(CacheKey, CachedResponse)] {
        var result: [(CacheKey, CachedResponse)] = []
        var slot = oldest
        while slot >= 0, let node = nodes[Int(slot)] {
            result.append((node.key, node.value))
            slot = node.newer
        }
        return result
    }

    private func find(_ key: CacheKey) -> (place: Int, slot: Int)? {
        index.find(hash: key.digest) { nodes[$0]!.key == key }
    }

    private func findGroup(_ group: CacheGroup) -> (place: Int, slot: Int32)? {
        groupIndex.find(hash: Self.hash(group)) { nodes[$0]!.key.group == group }
            .map { ($0.place, Int32($0.slot)) }
    }

    private func keyHash(_ slot: Int) -> UInt64 { nodes[slot]!.key.digest }
    private func groupHash(_ slot: Int) -> UInt64 { Self.hash(nodes[slot]!.key.group) }

    /// A group's SID mixed with the per-process seed (SIDs come from the upstream, but a table
    /// should not trust its keys to spread).
    private static func hash(_ group: CacheGroup) -> UInt64 {
        let mixed = (group.sid.fingerprint ^ KeyDigest.seed) &* 0xFF51_AFD7_ED55_8CCD
        return mixed ^ mixed >> 29
    }

    private mutating func moveToFront(_ slot: Int32) {
        guard slot != newest else { return }
        unlink(slot)
        nodes[Int(slot)]!.older = newest
        nodes[Int(slot)]!.newer = -1
        if newest >= 0 { nodes[Int(newest)]!.newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func unlink(_ slot: Int32) {
        let node = nodes[Int(slot)]!
        if node.newer >= 0 { nodes[Int(node.newer)]!.older = node.older } else { newest = node.older }
        if node.older >= 0 { nodes[Int(node.older)]!.newer = node.newer } else { oldest = node.newer }
        nodes[Int(slot)]!.newer = -1
        nodes[Int(slot)]!.older = -1
    }
}
