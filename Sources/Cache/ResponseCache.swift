import Locking

/// The shared response store: a byte budget split over independently locked LRU shards.
/// All entries of one group (one execution, or one flow's list pages, of any account) live in the
/// same shard, so a write invalidates them under one lock. SIDs are globally unique, so a successful
/// write makes every account's copy of that group outdated.
public final class ResponseCache: Sendable {
    private final class Shard: Sendable {
        let state: Locked<LRUShard>
        init(budget: Int) { state = Locked(LRUShard(budget: budget)) }
    }

    private let shards: [Shard]
    public let budget: Int

    public init(budgetBytes: Int, shardCount: Int = 16) {
        budget = budgetBytes
        let count = max(1, shardCount)
        shards = (0..<count).map { _ in Shard(budget: max(1, budgetBytes / count)) }
    }

    /// The group's SID mixed without a seed: it only picks which lock to take; each shard's
    /// dictionary keeps seeded hashing.
    private func shard(_ group: CacheGroup) -> Shard {
        shards[Int((group.sid.fingerprint >> 32) % UInt64(shards.count))]
    }

    public func get(_ key: CacheKey) -> CachedResponse? {
        shard(key.group).state.withLock { $0.get(key) }
    }

    @discardableResult
    public func put(_ key: CacheKey, _ value: CachedResponse) -> Bool {
        shard(key.group).state.withLock { $0.put(key, value) }
    }

    public func replace(_ key: CacheKey, _ old: CachedResponse, with new: CachedResponse) {
        shard(key.group).state.withLock { $0.replace(key, old, with: new) }
    }

    /// Removes `key`'s entry if it is still `entry` (not a newer one stored since).
    public func remove(_ key: CacheKey, ifHolding entry: CachedResponse) {
        shard(key.group).state.withLock { shard in
            if shard.get(key) === entry { shard.remove(key) }
        }
    }

    public func remove(_ key: CacheKey) {
        shard(key.group).state.withLock { $0.remove(key) }
    }

    @discardableResult
    public func removeGroup(_ group: CacheGroup, where predicate: (CacheKey, CachedResponse) -> Bool = { _, _ in true })
        -> Int
    {
        shard(group).state.withLock { $0.removeGroup(group, where: predicate) }
    }

    /// Entries that match `predicate`, each shard's least recently used first.
    public func entries(where predicate: (CacheKey, CachedResponse) -> Bool) -> [(CacheKey, CachedResponse)] {
        shards.flatMap { shard in shard.state.withLock { $0.entriesOldestFirst() }.filter { predicate($0.0, $0.1) } }
    }

    /// Removes every entry matching `predicate` (admin purges); returns how many.
    @discardableResult
    public func removeAll(where predicate: (CacheKey, CachedResponse) -> Bool) -> Int {
        shards.reduce(0) { total, shard in
            total
                + shard.state.withLock { state in
                    let victims = state.entriesOldestFirst().filter { predicate($0.0, $0.1) }
                    for (key, _) in victims { state.remove(key) }
                    return victims.count
                }
        }
    }

    public struct Stats: Sendable, Equatable {
        public var entries = 0
        public var bytes = 0
        public var evictions = 0

        public init(entries: Int = 0, bytes: Int = 0, evictions: Int = 0) {
            self.entries = entries
            self.bytes = bytes
            self.evictions = evictions
        }
    }

    public var stats: Stats {
        shards.reduce(into: Stats()) { total, shard in
            shard.state.withLock { state in
                total.entries += state.count
                total.bytes += state.bytes
                total.evictions += state.evictions
            }
        }
    }
}
