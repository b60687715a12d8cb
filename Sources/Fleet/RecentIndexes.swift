import Locking

/// The cross-slot index members this pod added lately (a flow's groups, an account's flows). The
/// polling workload shares an execution's entries again and again; re-adding the same member each
/// time cost two more Redis commands per share (SADD, PEXPIRE) on the budget every command shares.
/// A member is added again after `refresh`, and the sets outlive any entry by that much, so a purge
/// still finds everything; a purge (here or heard) forgets them all. Bounded: starts over when full.
final class RecentIndexes: Sendable {
    static let refresh: Double = 600
    private static let kept = 8_192
    private let added = Locked<[String: Double]>([:])

    /// Whether `member` of `set` must be written now (and, if so, it counts as written).
    func needsAdding(_ member: String, to set: String, now: Double) -> Bool {
        let key = set + "\n" + member
        return added.withLock { added in
            if let at = added[key], now - at < Self.refresh { return false }
            if added.count >= Self.kept { added.removeAll(keepingCapacity: true) }
            added[key] = now
            return true
        }
    }

    func forgetAll() { added.withLock { $0.removeAll(keepingCapacity: true) } }
}
