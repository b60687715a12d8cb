/// Where a command's key is, for routing it to the key's slot in a cluster. Every command the
/// gateway sends with a key (GET, SET, DEL, SADD, SMEMBERS, PEXPIRE, PTTL, EXISTS) has it first;
/// PING and PUBLISH have none (a classic PUBLISH reaches every node's subscribers).
enum CommandKeys {
    private static let keyless: Set<String> = ["PING", "PUBLISH", "ECHO", "ASKING", "CLUSTER", "INFO", "AUTH"]
    /// Commands whose every argument is a key and whose answer is a count: split by slot, summed.
    private static let summedOverKeys: Set<String> = ["DEL", "EXISTS", "UNLINK", "TOUCH"]

    static func slot(of command: RedisCommand) -> Int? {
        guard command.arguments.count > 1, !keyless.contains(command.name.uppercased()) else { return nil }
        return slot(of: command.arguments[1])
    }

    static func slot(of argument: RESPArgument) -> Int {
        switch argument {
        case .string(let text): HashSlot.of(text)
        case .bytes(let bytes): HashSlot.of(bytes: bytes)
        }
    }

    /// A multi-key DEL (or EXISTS, UNLINK, TOUCH) whose keys lie in several slots, as one command per
    /// slot (a cluster node refuses keys of another slot with CROSSSLOT); nil when it needs no split.
    static func splitBySlot(_ command: RedisCommand) -> [RedisCommand]? {
        guard command.arguments.count > 2, summedOverKeys.contains(command.name.uppercased()) else { return nil }
        let name = command.arguments[0]
        var slots: [Int] = []
        var keysBySlot: [Int: [RESPArgument]] = [:]
        for key in command.arguments.dropFirst() {
            let slot = slot(of: key)
            if keysBySlot[slot] == nil { slots.append(slot) }
            keysBySlot[slot, default: []].append(key)
        }
        guard slots.count > 1 else { return nil }
        return slots.map { RedisCommand([name] + keysBySlot[$0]!) }
    }
}
