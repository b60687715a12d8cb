/// One shard of the response cache: a dictionary plus two intrusive doubly linked lists kept in
/// an array of nodes (no per-node allocations) — the LRU order, and each group's members (for
/// invalidation). Not thread-safe: `ResponseCache` holds each shard behind its own mutex.
struct LRUShard {
    private struct Node {
        var key: CacheKey
        var value: CachedResponse
        var cost: Int
        var newer: Int
        var older: Int
        /// Neighbours in the same group's list.
        var groupNext: Int
        var groupPrevious: Int
    }

    private var index = SlotIndex()
    private var nodes: [Node?] = []
    private var freeSlots: [Int] = []
    private var newest = -1
    private var oldest = -1
    /// group → first node of its list (entries of any account).
    private var groupHeads: [CacheGroup: Int] = [:]
    let budget: Int
    private(set) var bytes = 0
    private(set) var evictions = 0
    var count: Int { index.count }

    init(budget: Int) { self.budget = budget }

    /// The entry (fresh or not) and marks it most recently used.
    mutating func get(_ key: CacheKey) -> CachedResponse? {
        guard let slot = find(key)?.slot else { return nil }
        moveToFront(slot)
        return nodes[slot]!.value
    }

    /// Stores `value`, evicting least recently used entries to stay within budget.
    /// Returns false (and stores nothing) when the entry alone is larger than the shard's budget.
    @discardableResult
    mutating func put(_ key: CacheKey, _ value: CachedResponse) -> Bool {
        let cost = value.cost(for: key)
        remove(key)
        guard cost <= budget else { return false }
        while bytes + cost > budget, oldest >= 0 {
            remove(nodes[oldest]!.key)
            evictions += 1
        }
        let groupHead = groupHeads[key.group] ?? -1
        let node = Node(
            key: key, value: value, cost: cost, newer: -1, older: newest, groupNext: groupHead, groupPrevious: -1)
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
            nodes[slot] = node
        } else {
            slot = nodes.count
            nodes.append(node)
        }
        if newest >= 0 { nodes[newest]!.newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
        if groupHead >= 0 { nodes[groupHead]!.groupPrevious = slot }
        groupHeads[key.group] = slot
        index.insert(slot, hash: key.digest, hashOf: { nodes[$0]!.key.digest })
        bytes += cost
        return true
    }

    /// Replaces `key`'s entry only if it still is `old` (it may have been evicted or refreshed meanwhile).
    mutating func replace(_ key: CacheKey, _ old: CachedResponse, with new: CachedResponse) {
        guard let slot = find(key)?.slot, nodes[slot]!.value === old else { return }
        put(key, new)
    }

    mutating func remove(_ key: CacheKey) {
        guard let (place, slot) = find(key) else { return }
        index.remove(at: place, hashOf: { nodes[$0]!.key.digest })
        unlink(slot)
        let node = nodes[slot]!
        if node.groupNext >= 0 { nodes[node.groupNext]!.groupPrevious = node.groupPrevious }
        if node.groupPrevious >= 0 {
            nodes[node.groupPrevious]!.groupNext = node.groupNext
        } else if node.groupNext >= 0 {
            groupHeads[key.group] = node.groupNext
        } else {
            groupHeads[key.group] = nil
        }
        bytes -= node.cost
        nodes[slot] = nil
        freeSlots.append(slot)
    }

    /// Removes the group's entries (of every account) that match `predicate`; returns how many.
    @discardableResult
    mutating func removeGroup(_ group: CacheGroup, where predicate: (CacheKey, CachedResponse) -> Bool) -> Int {
        var victims: [CacheKey] = []
        var slot = groupHeads[group] ?? -1
        while slot >= 0, let node = nodes[slot] {
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
        while slot >= 0, let node = nodes[slot] {
            result.append((node.key, node.value))
            slot = node.newer
        }
        return result
    }

    private func find(_ key: CacheKey) -> (place: Int, slot: Int)? {
        index.find(hash: key.digest) { nodes[$0]!.key == key }
    }

    private mutating func moveToFront(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        nodes[slot]!.older = newest
        nodes[slot]!.newer = -1
        if newest >= 0 { nodes[newest]!.newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let node = nodes[slot]!
        if node.newer >= 0 { nodes[node.newer]!.older = node.older } else { newest = node.older }
        if node.older >= 0 { nodes[node.older]!.newer = node.newer } else { oldest = node.newer }
        nodes[slot]!.newer = -1
        nodes[slot]!.older = -1
    }
}
