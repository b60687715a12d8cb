import Auth
import Cache
import Sealing

/// Where the fleet keeps things in Redis. A key's hash tag (`{…}`, its Redis Cluster slot) is what
/// must stay together — an execution's entries, their group set and their leases (`{FN…}`); a
/// flow's list pages (`{FW…/lists}`); one credential's proofs — so one account's data spreads over
/// every node of a cluster instead of landing in one slot. The account stays in every entry and
/// lease key (and in the value, checked on read) for isolation. Indexes reach across slots for
/// the operator's purges: a flow's groups (`{FW…}:f`), an account's flows (`{AC…}:a`).
struct FleetKeys: Sendable {
    let prefix: String

    var channel: String { prefix + "invalidate" }

    func entry(_ key: CacheKey) -> String { "\(prefix){\(key.group)}:e:\(key.account):\(key.resource)" }
    /// The entry keys of one group (any account: an execution belongs to one), which a write drops.
    func group(_ group: CacheGroup) -> String { "\(prefix){\(group)}:g" }
    func lease(_ key: CacheKey) -> String { "\(prefix){\(key.group)}:l:\(key.account):\(key.resource)" }
    /// The groups (`FN…`, `FW…/lists`) seen under one flow.
    func flowGroups(_ flow: String) -> String { "\(prefix){\(flow)}:f" }
    /// The flows seen for one account.
    func accountFlows(_ account: String) -> String { "\(prefix){\(account)}:a" }
    /// Named by an HMAC of the credential's digest under the data key, never the digest itself: a
    /// reader of Redis learns nothing it could match against a credential, nor mint a key for one.
    func proof(_ credential: SHA256Digest, family: ResourceFamily, sealing key: DataKey) -> String {
        "\(prefix){p:\(key.name(for: credential.bytes))}:\(family)"
    }
}
