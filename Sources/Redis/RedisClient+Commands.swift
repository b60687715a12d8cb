import EventLoop

/// The commands the gateway uses, with their replies read into Swift types. A reply of another
/// kind is `.unexpectedReply` (and counts against Redis's health, like garbage would).
extension RedisClient {
    /// The value, or nil when the key does not exist (or expired).
    public func get(
        _ key: String, on loop: EventLoop, timeoutMilliseconds: Int? = nil,
        completion: @escaping (Result<[UInt8]?, RedisError>) -> Void
    ) {
        send(.get(key), on: loop, timeoutMilliseconds: timeoutMilliseconds) { result in
            completion(
                result.flatMap { reply in
                    guard case .bulkString(let bytes) = reply else {
                        return .failure(Self.unexpected(reply, for: "GET"))
                    }
                    return .success(bytes)
                })
        }
    }

    /// `SET key value PX ms [NX]`. True when stored; false when `onlyIfAbsent` and the key existed
    /// (a lease someone else holds).
    public func set(
        _ key: String, _ value: [UInt8], expireMilliseconds: Int, onlyIfAbsent: Bool = false,
        on loop: EventLoop, timeoutMilliseconds: Int? = nil,
        completion: @escaping (Result<Bool, RedisError>) -> Void
    ) {
        let command = RedisCommand.set(key, value, expireMilliseconds: expireMilliseconds, onlyIfAbsent: onlyIfAbsent)
        send(command, on: loop, timeoutMilliseconds: timeoutMilliseconds) { result in
            completion(
                result.flatMap { reply in
                    switch reply {
                    case .simpleString("OK"): .success(true)
                    case .bulkString(nil): .success(false)
                    default: .failure(Self.unexpected(reply, for: "SET"))
                    }
                })
        }
    }

    /// How many of `keys` existed and were deleted.
    public func delete(
        _ keys: [String], on loop: EventLoop, timeoutMilliseconds: Int? = nil,
        completion: @escaping (Result<Int, RedisError>) -> Void
    ) {
        send(.delete(keys), on: loop, timeoutMilliseconds: timeoutMilliseconds) { result in
            completion(result.flatMap { Self.integer($0, for: "DEL") })
        }
    }

    /// How many subscribers received the message (on this Redis node).
    public func publish(
        _ channel: String, _ message: [UInt8], on loop: EventLoop, timeoutMilliseconds: Int? = nil,
        completion: @escaping (Result<Int, RedisError>) -> Void
    ) {
        send(.publish(channel, message), on: loop, timeoutMilliseconds: timeoutMilliseconds) { result in
            completion(result.flatMap { Self.integer($0, for: "PUBLISH") })
        }
    }

    public func ping(
        on loop: EventLoop, timeoutMilliseconds: Int? = nil,
        completion: @escaping (Result<Void, RedisError>) -> Void
    ) {
        send(.ping, on: loop, timeoutMilliseconds: timeoutMilliseconds) { result in
            completion(
                result.flatMap { reply in
                    reply == .simpleString("PONG") ? .success(()) : .failure(Self.unexpected(reply, for: "PING"))
                })
        }
    }

    private static func integer(_ reply: RESPValue, for command: String) -> Result<Int, RedisError> {
        guard case .integer(let value) = reply, let count = Int(exactly: value) else {
            return .failure(unexpected(reply, for: command))
        }
        return .success(count)
    }

    /// Names the reply's kind only: its contents could be an entry.
    private static func unexpected(_ reply: RESPValue, for command: String) -> RedisError {
        let kind =
            switch reply {
            case .simpleString: "a simple string"
            case .error: "an error"
            case .integer: "an integer"
            case .bulkString(nil): "a null bulk string"
            case .bulkString: "a bulk string"
            case .array: "an array"
            }
        return .unexpectedReply("\(kind) in answer to \(command)")
    }
}
