import Cache

/// The pod's own cache as the fleet changes it: entries adopted from Redis, and what other pods'
/// writes and lost notices make stale. The gateway's `EntryStore` is the one implementation.
public protocol FirstLevel: AnyObject, Sendable {
    /// Keeps a fresh entry another pod stored (an ended execution's entry marks it ended).
    func adopt(_ key: CacheKey, _ entry: CachedResponse)
    func drop(_ invalidation: CacheInvalidation)
    /// Everything that may have changed: every entry but the permanent ones.
    func dropShortLived()
    /// An operator's purge (on another pod); returns how many entries went.
    func purge(_ scope: PurgeScope) -> Int
}
