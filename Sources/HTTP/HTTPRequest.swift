public struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }
    public static let http10 = HTTPVersion(major: 1, minor: 0)
    public static let http11 = HTTPVersion(major: 1, minor: 1)
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A complete request as the parser delivers it: head plus de-chunked body.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http11, headers: HTTPHeaders = [:],
        body: [UInt8] = []
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// The target's path and query (without the `?`), split at the first `?`.
    public var pathAndQuery: (path: Substring, query: Substring) { Self.split(target) }

    public static func split(_ target: String) -> (path: Substring, query: Substring) {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (target[...], "") }
        return (target[..<mark], target[target.index(after: mark)...])
    }

    /// Whether the connection may carry another request after this one (RFC 9112 §9.3).
    public var keepAlive: Bool {
        guard headers.contains("Connection") else { return version == .http11 }
        let connection = headers.tokens("Connection")
        if connection.contains("close") { return false }
        return version == .http11 || connection.contains("keep-alive")
    }
}
