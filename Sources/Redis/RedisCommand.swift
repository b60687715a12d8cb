/// One argument of a command, sent as a bulk string: text (keys, channels, options) or bytes
/// (cache entries, which are compressed binary).
public enum RESPArgument: Sendable, Equatable, ExpressibleByStringLiteral {
    case string(String)
    case bytes([UInt8])

    public init(stringLiteral value: String) { self = .string(value) }

    var byteCount: Int {
        switch self {
        case .string(let text): text.utf8.count
        case .bytes(let bytes): bytes.count
        }
    }
}

/// A command as Redis reads it: an array of bulk strings. Printing one shows its name and
/// argument count only, since arguments can be entries or a password (AUTH).
public struct RedisCommand: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public var arguments: [RESPArgument]

    public init(_ arguments: [RESPArgument]) { self.arguments = arguments }

    /// The command's name, e.g. `GET`.
    public var name: String {
        switch arguments.first {
        case .string(let text): text
        case .bytes(let bytes): String(decoding: bytes, as: UTF8.self)
        case nil: ""
        }
    }

    public var description: String { "\(name) (\(max(0, arguments.count - 1)) arguments)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["name": name]) }

    public static func get(_ key: String) -> RedisCommand { RedisCommand(["GET", .string(key)]) }

    /// `SET key value PX ms [NX]`: an entry that expires by itself; with NX only if the key is absent
    /// (a lease).
    public static func set(_ key: String, _ value: [UInt8], expireMilliseconds: Int, onlyIfAbsent: Bool = false)
        -> RedisCommand
    {
        var arguments: [RESPArgument] = ["SET", .string(key), .bytes(value), "PX", .string(String(expireMilliseconds))]
        if onlyIfAbsent { arguments.append("NX") }
        return RedisCommand(arguments)
    }

    public static func delete(_ keys: [String]) -> RedisCommand { RedisCommand(["DEL"] + keys.map { .string($0) }) }

    public static func publish(_ channel: String, _ message: [UInt8]) -> RedisCommand {
        RedisCommand(["PUBLISH", .string(channel), .bytes(message)])
    }

    public static let ping = RedisCommand(["PING"])

    /// AUTH with a user name (Redis 6 ACLs) or the password alone (`requirepass`).
    static func auth(username: String?, password: String) -> RedisCommand {
        if let username { return RedisCommand(["AUTH", .string(username), .string(password)]) }
        return RedisCommand(["AUTH", .string(password)])
    }

    static func select(_ database: Int) -> RedisCommand { RedisCommand(["SELECT", .string(String(database))]) }

    /// Lets the next command on the connection reach a slot being imported (after an ASK).
    static let asking = RedisCommand(["ASKING"])

    static let clusterShards = RedisCommand(["CLUSTER", "SHARDS"])
    static let clusterSlots = RedisCommand(["CLUSTER", "SLOTS"])

    static func subscribe(_ channels: [String]) -> RedisCommand {
        RedisCommand(["SUBSCRIBE"] + channels.map { .string($0) })
    }
}
