/// What the cache needs to know from a Studio body: whose it is and which executions have ended.
/// Read on the miss path only (hits never parse JSON).
public struct ExecutionFacts: Equatable, Sendable {
    public struct Item: Equatable, Sendable {
        public var sid: String
        public var status: String?
        public var account: String?

        public init(sid: String, status: String? = nil, account: String? = nil) {
            self.sid = sid
            self.status = status
            self.account = account
        }
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

    /// Nil when the body is not a JSON object. (The gateway reads them from the same pass that
    /// rewrites the body: `StudioJSONRewriter.rewriteAndRead`.)
    public init?(body: [UInt8]) {
        guard let read = StudioJSONRewriter.rewriteAndRead(body, URLRewrite(fromOrigins: [], toOrigin: "")) else {
            return nil
        }
        self = read.facts
    }
}
