import Studio

/// Which entries an operator's purge or listing names: one execution's, one flow's (its list
/// pages and its executions' views), one account's, or one of the first two narrowed to an
/// account; or (an erasure request) every execution of one contact, by its SID or its channel
/// address, which only the executions' book can resolve (`matches` names no key for it).
public struct PurgeScope: Sendable, Equatable {
    public var execution: SID?
    public var flow: String?
    public var account: String?
    public var contact: ExecutionContact?

    /// Every execution of this contact: its `FC…` SID or its channel address.
    public init(contact: ExecutionContact) {
        self.contact = contact
    }

    /// Nil when nothing is named: a purge of everything is never what an operator meant.
    public init?(execution: SID?, flow: String?, account: String?) {
        guard execution != nil || flow != nil || account != nil else { return nil }
        self.execution = execution
        self.flow = flow
        self.account = account
    }

    public func matches(_ key: CacheKey) -> Bool {
        if contact != nil { return false }
        if let account, key.account != account { return false }
        if let execution { return key.group == CacheGroup(execution) }
        if let flow { return key.resource.contains("/Flows/\(flow)/") }
        return account != nil
    }

    /// For the log: `FN…`, `FW…`, `AC…`, or `FN… account AC…`.
    public var description: String {
        // An address is personal data: never logged.
        if let contact { return contact.sid.map { "contact " + $0 } ?? "a contact address" }
        let named = execution?.value ?? flow
        return [named, account.map { named == nil ? $0 : "account " + $0 }].compactMap { $0 }.joined(separator: " ")
    }
}
