/// How absolute Studio URLs in responses are rewritten (docs/ARCHITECTURE.md, «URL rewriting»):
/// URLs whose origin is one of `fromOrigins` get `toOrigin` instead, path and query untouched. For
/// the Engagement view the `/v1/Flows/{FW}/Executions` prefix also becomes `/Engagements`.
public struct URLRewrite: Sendable, Equatable {
    public var fromOrigins: [String]
    public var toOrigin: String
    public var engagementView: Bool

    public init(fromOrigins: [String], toOrigin: String, engagementView: Bool = false) {
        self.fromOrigins = fromOrigins.map { Self.trimmedOrigin($0) }
        self.toOrigin = Self.trimmedOrigin(toOrigin)
        self.engagementView = engagementView
    }

    private static func lowered(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// An origin without its trailing slash.
    public static func trimmedOrigin(_ origin: String) -> String {
        origin.hasSuffix("/") ? String(origin.dropLast()) : origin
    }

    /// The rewritten URL, or nil when `url` is not one of ours (left untouched).
    public func rewrite(_ url: String) -> String? {
        // Byte comparisons: this runs for every URL of every forwarded body.
        let bytes = url.utf8
        guard
            let origin = fromOrigins.first(where: { origin in
                let originBytes = origin.utf8
                guard bytes.count >= originBytes.count,
                    zip(bytes, originBytes).allSatisfy({ Self.lowered($0) == Self.lowered($1) })
                else { return false }
                guard bytes.count > originBytes.count else { return true }
                let next = bytes[bytes.index(bytes.startIndex, offsetBy: originBytes.count)]
                return next == UInt8(ascii: "/") || next == UInt8(ascii: "?")
            })
        else { return nil }
        var rest = String(url.utf8.dropFirst(origin.utf8.count))!
        if engagementView { rest = Self.engagementPath(rest) }
        return toOrigin + rest
    }

    /// `/v1/Flows/FW…/Executions…` → `/v1/Flows/FW…/Engagements…`; other paths unchanged.
    static func engagementPath(_ path: String) -> String {
        let prefix = "/v1/Flows/"
        let segment = "/Executions"
        guard path.hasPrefix(prefix) else { return path }
        let flowEnd =
            path.index(path.startIndex, offsetBy: prefix.count + 34, limitedBy: path.endIndex) ?? path.endIndex
        guard SID(path[path.index(path.startIndex, offsetBy: prefix.count)..<flowEnd], prefix: "FW") != nil,
            path[flowEnd...].hasPrefix(segment)
        else { return path }
        let after = path.index(flowEnd, offsetBy: segment.count)
        guard after == path.endIndex || ["/", "?"].contains(path[after]) else { return path }
        return String(path[..<flowEnd]) + "/Engagements" + String(path[after...])
    }
}
