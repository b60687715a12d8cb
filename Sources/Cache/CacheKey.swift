import Studio

/// Where a response is stored: per account (the isolation rules), by canonical upstream path and sorted query.
/// `group` ties together what one write must invalidate: every view of one execution, or one
/// flow's list pages.
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    public let account: String
    public let resource: String
    public let group: String

    public init(account: String, resource: String, group: String) {
        self.account = account
        self.resource = resource
        self.group = group
    }

    public init?(account: String, route: StudioRoute, query: String) {
        guard let group = Self.group(of: route) else { return nil }
        let path = route.upstreamPath
        self.init(account: account, resource: query.isEmpty ? path : path + Self.canonicalQuery(query), group: group)
    }

    /// Executions-family routes only: flow admin paths are never cached.
    public static func group(of route: StudioRoute) -> String? {
        guard let flow = route.flow else { return nil }
        switch route.resource {
        case .executionList: return listGroup(flow: flow.value)
        case .flowAdmin: return nil
        default: return route.execution?.value
        }
    }

    public static func listGroup(flow: String) -> String { flow + "/lists" }

    /// Sorted by name, re-encoded the same way, so `?b=2&a=1` and `?a=1&b=2` share an entry. The
    /// sort is stable: a repeated name keeps its order (`?PageSize=2&PageSize=3` is not
    /// `?PageSize=3&PageSize=2`: the upstream may read either occurrence).
    public static func canonicalQuery(_ query: String) -> String {
        if query.isEmpty { return "" }
        let pairs = FormURLEncoded.parse(query).enumerated()
            .sorted { ($0.element.name, $0.offset) < ($1.element.name, $1.offset) }
            .map(\.element)
        return pairs.isEmpty ? "" : "?" + FormURLEncoded.serialize(pairs)
    }

    /// `group` is a function of `resource`, so it is left out of the hash (a lookup per hit).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(account)
        hasher.combine(resource)
    }

    public var description: String { "\(account) \(resource)" }
}
