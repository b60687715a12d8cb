import Auth
import Cache

/// Where the fleet keeps things in Redis. Keys carry the account in a hash tag (`{AC…}`), so one
/// account's entries, group sets and leases live in one Redis Cluster slot.
struct FleetKeys: Sendable {
    let prefix: String

    var channel: String { prefix + "invalidate" }

    func entry(_ key: CacheKey) -> String { "\(prefix){\(key.account)}:e:\(key.resource)" }
    /// The set of entry keys a write to `group` must delete.
    func group(account: String, _ group: CacheGroup) -> String { "\(prefix){\(account)}:g:\(group)" }
    func lease(_ key: CacheKey) -> String { "\(prefix){\(key.account)}:lease:\(key.resource)" }
    func proof(_ credential: SHA256Digest, family: ResourceFamily) -> String {
        "\(prefix)proof:\(credential):\(family)"
    }
}
