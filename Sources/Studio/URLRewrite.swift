/// How absolute Studio URLs in responses are rewritten (DESIGN §5): URLs whose origin is one of
/// `fromOrigins` get `toOrigin` instead, path and query untouched. For the Engagement view the
/// `/v1/Flows/{FW}/Executions` prefix also becomes `/Engagements`.
public struct URLRewrite: Sendable, Equatable {
    public var fromOrigins: [String]
    public var toOrigin: String
    public var engagementView: Bool

    public init(fromOrigins: [String], toOrigin: String, engagementView: Bool = false) {
        self.fromOrigins = fromOrigins.map { Self.trimmedOrigin($0) }
        self.toOrigin = Self.trimmedOrigin(toOrigin)
        self.engagementView = engagementView
    }

    static func trimmedOrigin(_ origin: String) -> String { origin.hasSuffix("/") ? String(origin.dropLast()) : origin }

    /// The rewritten URL, or nil when `url` is not one of ours (left untouched).
    public func rewrite(_ url: String) -> String? {
        let lower = url.lowercased()
        guard let origin = fromOrigins.first(where: { origin in
            lower.hasPrefix(origin.lowercased()) && (lower.count == origin.count || ["/", "?"].contains(lower[lower.index(lower.startIndex, offsetBy: origin.count)]))
        }) else { return nil }
        var rest = String(url.dropFirst(origin.count))
        if engagementView { rest = Self.engagementPath(rest) }
        return toOrigin + rest
    }

    /// `/v1/Flows/FW…/Executions…` → `/v1/Flows/FW…/Engagements…`; other paths unchanged.
    static func engagementPath(_ path: String) -> String {
        let prefix = "/v1/Flows/"
        let segment = "/Executions"
        guard path.hasPrefix(prefix) else { return path }
        let flowEnd = path.index(path.startIndex, offsetBy: prefix.count + 34, limitedBy: path.endIndex) ?? path.endIndex
        guard SID(path[path.index(path.startIndex, offsetBy: prefix.count)..<flowEnd], prefix: "FW") != nil,
              path[flowEnd...].hasPrefix(segment)
        else { return path }
        let after = path.index(flowEnd, offsetBy: segment.count)
        guard after == path.endIndex || ["/", "?"].contains(path[after]) else { return path }
        return String(path[..<flowEnd]) + "/Engagements" + String(path[after...])
    }
}
