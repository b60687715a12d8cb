/// A response as handlers produce it. The server adds framing headers
/// (Content-Length, Connection, Date) when it serialises it.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: HTTPStatus, headers: HTTPHeaders = [:], text: String) {
        self.init(status: status, headers: headers, body: Array(text.utf8))
    }
}

/// What a handler hands back: a response, or (for fault injection) an abrupt reset.
public enum HTTPReply: Sendable {
    case response(HTTPResponse)
    /// Close the connection with RST and no response bytes.
    case resetConnection
    /// Write these bytes verbatim, then close (fault injection: truncated or malformed responses).
    case raw([UInt8])
}

/// Hop-by-hop fields: meaningful for one connection only, never forwarded (RFC 9110 §7.6.1).
public enum HopByHop {
    public static let names: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// True for the fixed hop-by-hop names and for any field the Connection header names.
    public static func isHopByHop(_ name: String, connectionTokens: [String]) -> Bool {
        let lower = name.lowercased()
        return names.contains(lower) || connectionTokens.contains(lower)
    }
}
