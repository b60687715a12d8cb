import Auth
import Cache
import Sealing

/// Where the fleet keeps things in Redis. A key's hash tag (`{…}`, its Redis Cluster slot) is what
/// must stay together — an execution's entries, their group set and their leases (`{FN…}`); a
/// flow's list pages (`{FW…/lists}`); one credential's proofs — so one account's data spreads over
/// every node of a cluster instead of landing in one slot. The account stays in every entry and
/// lease key (and in the value, checked on read) for isolation. Indexes reach across slots for
/// the operator's purges: a flow's groups (`{FW…}:f`), an account's flows.
///
/// With a data key, what would name a customer or a credential is a keyed name instead (an HMAC
/// under `DataKeys.naming`): the account in every key, the credential in a proof's key. A reader of
/// Redis can neither tell whose data a key holds nor make a key for a credential of their own.
struct FleetKeys: Sendable {
    let prefix: String
    let naming: DataKey?

    init(prefix: String, naming: DataKey?) {
        self.prefix = prefix
        self.naming = naming
    }

    var channel: String { prefix + "invalidate" }

    /// The account as keys spell it.
    func account(_ account: String) -> String {
        guard let naming else { return account }
        return "a" + naming.name(for: Array(account.utf8)).prefix(32)
    }

    func entry(_ key: CacheKey) -> String { "\(prefix){\(key.group)}:e:\(account(key.account)):\(key.resource)" }
    /// The entry keys of one group (any account: an execution belongs to one), which a write drops.
    func group(_ group: CacheGroup) -> String { "\(prefix){\(group)}:g" }
    func lease(_ key: CacheKey) -> String { "\(prefix){\(key.group)}:l:\(account(key.account)):\(key.resource)" }
    /// The groups (`FN…`, `FW…/lists`) seen under one flow.
    func flowGroups(_ flow: String) -> String { "\(prefix){\(flow)}:f" }
    /// The flows seen for one account.
    func accountFlows(_ account: String) -> String { "\(prefix){\(self.account(account))}:a" }
    /// What marks an entry key as one account's, inside a group set.
    func entryMarker(account: String) -> String { ":e:\(self.account(account)):" }
    /// The executions of one contact (its `FC…` SID or its channel address), for erasure: named by
    /// an HMAC under the data key, or without one by a SHA-256 of the text; never the text itself.
    func contact(_ text: String) -> String {
        let bytes = Array(("contact:" + text).utf8)
        return "\(prefix){c:\(naming?.name(for: bytes) ?? SHA256.hash(bytes).description)}"
    }

    /// Named by an HMAC of the credential's digest under the data key, never the digest itself.
    func proof(_ credential: SHA256Digest, family: ResourceFamily, naming: DataKey) -> String {
        "\(prefix){p:\(naming.name(for: credential.bytes))}:\(family)"
    }
}
