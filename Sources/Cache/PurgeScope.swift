import Studio

/// Which entries an operator's purge or listing names: one execution's, one flow's (its list
/// pages and its executions' views), one account's, or one of the first two narrowed to an account.
public struct PurgeScope: Sendable, Equatable {
    public var execution: SID?
    public var flow: String?
    public var account: String?

    /// Nil when nothing is named: a purge of everything is never what an operator meant.
    public init?(execution: SID?, flow: String?, account: String?) {
        guard execution != nil || flow != nil || account != nil else { return nil }
        self.execution = execution
        self.flow = flow
        self.account = account
    }

    public func matches(_ key: CacheKey) -> Bool {
        if let account, key.account != account { return false }
        if let execution { return key.group == CacheGroup(execution) }
        if let flow { return key.resource.contains("/Flows/\(flow)/") }
        return account != nil
    }

    /// For the log: `FN…`, `FW…`, `AC…`, or `FN… account AC…`.
    public var description: String {
        let named = execution?.value ?? flow
        return [named, account.map { named == nil ? $0 : "account " + $0 }].compactMap { $0 }.joined(separator: " ")
    }
}
