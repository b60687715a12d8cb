/// What the cache needs to know from a Studio body: whose it is and which executions have ended.
/// Read on the miss path only (hits never parse JSON).
public struct ExecutionFacts: Equatable, Sendable {
    public struct Item: Equatable, Sendable {
        public var sid: String
        public var status: String?
        public var account: String?
        /// `date_created`, seconds since 1970 (nil when absent or not a Studio date).
        public var created: Int64?
        public var contact: ExecutionContact = ExecutionContact()

        public init(
            sid: String, status: String? = nil, account: String? = nil, created: Int64? = nil,
            contact: ExecutionContact = ExecutionContact()
        ) {
            self.sid = sid
            self.status = status
            self.account = account
            self.created = created
            self.contact = contact
        }
    }

    /// Top-level `account_sid`, or the one every list item shares.
    public var account: String?
    /// Top-level `status` (an Execution body).
    public var status: String?
    /// Top-level `date_created`, seconds since 1970: the execution's creation time in an
    /// Execution body (a Step's own in a Step body: only the gateway knows which route it read).
    public var created: Int64?
    /// Top-level `contact_sid` and `contact_channel_address` (an Execution body).
    public var contact: ExecutionContact = ExecutionContact()
    /// Items of a list page (`executions` array).
    public var items: [Item] = []

    public init(
        account: String? = nil, status: String? = nil, created: Int64? = nil,
        contact: ExecutionContact = ExecutionContact(), items: [Item] = []
    ) {
        self.account = account
        self.status = status
        self.created = created
        self.contact = contact
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
