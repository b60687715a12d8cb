import Auth
import Cache
import Studio

/// What one pod tells the others on the fleet's channel, and what a lost subscription means.
public enum FleetNotice: Equatable, Sendable {
    case dropGroup(CacheInvalidation)
    case forgetCredential(SHA256Digest, family: ResourceFamily?)
    /// An operator's purge on one pod, for every pod.
    case purge(PurgeScope)
    /// The subscription was lost for a while: other pods' notices may be missing.
    case missedNotices

    /// `G short|all GROUP FROM`, `P DIGEST FAMILY|all FROM` or `X EXECUTION|- FLOW|- ACCOUNT|- FROM`,
    /// as published.
    func message(from instance: String) -> [UInt8] {
        let text: String
        switch self {
        case .dropGroup(let invalidation):
            text = "G \(invalidation.shortLivedOnly ? "short" : "all") \(invalidation.group) \(instance)"
        case .forgetCredential(let credential, let family):
            text = "P \(credential) \(family.map(\.description) ?? "all") \(instance)"
        case .purge(let scope):
            text = "X \(scope.execution?.value ?? "-") \(scope.flow ?? "-") \(scope.account ?? "-") \(instance)"
        case .missedNotices:
            preconditionFailure("a lost subscription is noticed, never published")
        }
        return Array(text.utf8)
    }

    /// A published message read back; nil for anything else, and for this pod's own messages (it
    /// already did what they say).
    static func parse(_ payload: [UInt8], ignoring instance: String) -> FleetNotice? {
        let words = String(decoding: payload, as: UTF8.self).split(separator: " ")
        guard words.count >= 4, words.last! != instance else { return nil }
        if words[0] == "X", words.count == 5 {
            func named(_ word: Substring, _ prefix: String) -> SID? { word == "-" ? nil : SID(word, prefix: prefix) }
            let execution = named(words[1], "FN")
            let flow = named(words[2], "FW")
            let account = named(words[3], "AC")
            guard execution != nil || words[1] == "-", flow != nil || words[2] == "-",
                account != nil || words[3] == "-",
                let scope = PurgeScope(execution: execution, flow: flow?.value, account: account?.value)
            else { return nil }
            return .purge(scope)
        }
        guard words.count == 4 else { return nil }
        switch words[0] {
        case "G" where words[1] == "short" || words[1] == "all":
            guard let group = CacheGroup(String(words[2])) else { return nil }
            return .dropGroup(CacheInvalidation(group: group, shortLivedOnly: words[1] == "short"))
        case "P":
            guard let digest = SHA256Digest(hex: words[1]) else { return nil }
            if words[2] == "all" { return .forgetCredential(digest, family: nil) }
            guard let family = ResourceFamily(parsing: words[2]) else { return nil }
            return .forgetCredential(digest, family: family)
        default:
            return nil
        }
    }
}
