/// Why a command did not get a usable answer. Every command completes exactly once, with a value
/// or one of these.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No answer within the command's deadline; the connection it was on has been closed.
    case timeout
    /// The circuit breaker is open: Redis failed repeatedly, the network was not touched.
    case circuitOpen
    /// No connection on this loop is up (connecting, or waiting to reconnect).
    case notConnected(String)
    /// The connection closed before the answer came (reset, EOF, another command's timeout).
    case connectionClosed(String)
    /// Redis (or something pretending to be it) sent bytes that are not RESP2 within the limits.
    case protocolError(RESPError)
    /// Redis answered with an error reply (`-ERR …`, `-WRONGTYPE …`).
    case server(String)
    /// A well-formed reply of the wrong kind for the command.
    case unexpectedReply(String)
    /// Redis is not reading: the connection's output or its queue of unanswered commands is full.
    case backpressure
    /// The event loop is stopping.
    case stopped
    /// Redis Cluster: no master serves the key's slot (the map says so); failed without a network turn.
    case slotUnowned(Int)
    /// Redis Cluster: the nodes kept sending the command elsewhere (MOVED, ASK) past the limit.
    case tooManyRedirections(String)

    public var description: String {
        switch self {
        case .timeout: "Redis did not answer within the command's deadline"
        case .circuitOpen: "Redis circuit open after repeated failures"
        case .notConnected(let reason): "not connected to Redis: \(reason)"
        case .connectionClosed(let reason): "Redis connection closed: \(reason)"
        case .protocolError(let error): "Redis protocol error: \(error)"
        case .server(let message): "Redis error: \(message)"
        case .unexpectedReply(let reply): "unexpected Redis reply: \(reply)"
        case .backpressure: "Redis is not reading; command refused"
        case .stopped: "the event loop is stopping"
        case .slotUnowned(let slot): "no Redis Cluster node serves slot \(slot)"
        case .tooManyRedirections(let last): "Redis Cluster redirected the command too often (last: \(last))"
        }
    }

    /// Whether the failure says something about Redis's health (and counts towards opening the
    /// circuit). Ordinary error replies (a wrong type, a syntax error) come from a Redis that is
    /// working; these prefixes say it cannot serve: still loading, busy with a script, refusing
    /// writes or logins.
    var countsAgainstHealth: Bool {
        switch self {
        case .timeout, .notConnected, .connectionClosed, .protocolError, .unexpectedReply, .backpressure: true
        case .server(let message): Self.unhealthyPrefixes.contains { message.hasPrefix($0) }
        case .circuitOpen, .stopped, .slotUnowned, .tooManyRedirections: false
        }
    }

    private static let unhealthyPrefixes = [
        "LOADING", "BUSY", "MASTERDOWN", "MISCONF", "NOAUTH", "WRONGPASS",
        "READONLY", "TRYAGAIN", "CLUSTERDOWN", "OOM",
    ]
}
