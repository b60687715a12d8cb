/// A cluster node's answer that the command belongs elsewhere, read from its error reply.
/// `MOVED`: the slot has a new owner for good (follow it and learn the new map). `ASK`: the slot is
/// being migrated and this key already left; ask the importing node once, after `ASKING`.
enum Redirection: Sendable, Equatable {
    case moved(slot: Int, to: RedisNodeAddress)
    case ask(slot: Int, to: RedisNodeAddress)

    /// `MOVED 3999 127.0.0.1:6381` or `ASK 3999 127.0.0.1:6381`; nil for any other error.
    init?(errorReply message: String, askedHost: String? = nil) {
        let isMoved = message.hasPrefix("MOVED ")
        guard isMoved || message.hasPrefix("ASK ") else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count == 3, let slot = Int(parts[1]), (0..<HashSlot.count).contains(slot),
            let node = RedisNodeAddress(parsing: parts[2], askedHost: askedHost)
        else { return nil }
        self = isMoved ? .moved(slot: slot, to: node) : .ask(slot: slot, to: node)
    }

    var target: RedisNodeAddress {
        switch self {
        case .moved(_, let node), .ask(_, let node): node
        }
    }
}
