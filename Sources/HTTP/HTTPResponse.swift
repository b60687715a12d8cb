/// A response as handlers produce it. The server adds framing headers
/// (Content-Length, Connection, Date) when it serialises it.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, headers: HTTPHeaders = [:], text: String) {
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

public enum HTTPStatus {
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }

    /// Statuses that never carry a body (RFC 9110 §6.4.1).
    public static func forbidsBody(_ status: Int) -> Bool { status < 200 || status == 204 || status == 304 }
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
