/// What a successful write outdated: one group of entries to drop, here and (with a fleet) on
/// every pod and in Redis.
public struct CacheInvalidation: Equatable, Sendable {
    public var group: CacheGroup
    /// An update keeps permanent entries (an ended execution's data does not change).
    public var shortLivedOnly: Bool

    public init(group: CacheGroup, shortLivedOnly: Bool) {
        self.group = group
        self.shortLivedOnly = shortLivedOnly
    }
}
