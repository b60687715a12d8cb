/// One node of a Redis Cluster as the cluster names it: the host (an IP or a name it announces)
/// and the port clients use.
public struct RedisNodeAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `host:port` as in MOVED and ASK replies (the last colon splits, so IPv6 hosts parse); an
    /// empty host means the node that sent the reply (`askedHost`).
    public init?(parsing text: Substring, askedHost: String? = nil) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty {
            guard let askedHost else { return nil }
            host = askedHost
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    var endpoint: RedisURL.Endpoint { .tcp(host: host, port: port) }
}
