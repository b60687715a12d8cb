import Auth
import Cache

/// What one pod tells the others on the fleet's channel, and what a lost subscription means.
public enum FleetNotice: Equatable, Sendable {
    case dropGroup(CacheInvalidation)
    case forgetCredential(SHA256Digest, family: ResourceFamily?)
    /// The subscription was lost for a while: other pods' notices may be missing.
    case missedNotices

    /// `G short|all GROUP FROM` or `P DIGEST FAMILY|all FROM`, as published.
    func message(from instance: String) -> [UInt8] {
        let text: String
        switch self {
        case .dropGroup(let invalidation):
            text = "G \(invalidation.shortLivedOnly ? "short" : "all") \(invalidation.group) \(instance)"
        case .forgetCredential(let credential, let family):
            text = "P \(credential) \(family.map(\.description) ?? "all") \(instance)"
        case .missedNotices:
            preconditionFailure("a lost subscription is noticed, never published")
        }
        return Array(text.utf8)
    }

    /// A published message read back; nil for anything else, and for this pod's own messages (it
    /// already did what they say).
    static func parse(_ payload: [UInt8], ignoring instance: String) -> FleetNotice? {
        let words = String(decoding: payload, as: UTF8.self).split(separator: " ")
        guard words.count == 4, words[3] != instance else { return nil }
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
