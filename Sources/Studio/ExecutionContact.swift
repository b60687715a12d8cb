/// Whom an execution was for: its Contact (`contact_sid`, `FC…`) and the contact's channel address
/// (`contact_channel_address`, a phone number or the like): what an erasure request names.
public struct ExecutionContact: Equatable, Sendable {
    public var sid: String?
    public var address: String?

    public init(sid: String? = nil, address: String? = nil) {
        self.sid = sid
        self.address = address
    }
}
