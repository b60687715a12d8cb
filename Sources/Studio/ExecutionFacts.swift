import Foundation

/// What the cache needs to know from a Studio body: whose it is and which executions have ended.
/// Read on the miss path only (hits never parse JSON).
public struct ExecutionFacts: Equatable, Sendable {
    public struct Item: Equatable, Sendable {
        public var sid: String
        public var status: String?
        public var account: String?
    }

    /// Top-level `account_sid`, or the one every list item shares.
    public var account: String?
    /// Top-level `status` (an Execution body).
    public var status: String?
    /// Items of a list page (`executions` array).
    public var items: [Item] = []

    public init(account: String? = nil, status: String? = nil, items: [Item] = []) {
        self.account = account
        self.status = status
        self.items = items
    }

    /// Nil when the body is not a JSON object.
    public init?(body: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        account = object["account_sid"] as? String
        status = object["status"] as? String
        if let list = object["executions"] as? [[String: Any]] {
            items = list.compactMap { item in
                (item["sid"] as? String).map { Item(sid: $0, status: item["status"] as? String, account: item["account_sid"] as? String) }
            }
            let accounts = Set(items.compactMap(\.account))
            if account == nil, accounts.count == 1 { account = accounts.first }
            if accounts.count > 1 { account = nil }  // a mixed page cannot be attributed to one account
        }
        if account == nil, let steps = object["steps"] as? [[String: Any]] {
            let accounts = Set(steps.compactMap { $0["account_sid"] as? String })
            if accounts.count == 1 { account = accounts.first }
        }
    }
}
