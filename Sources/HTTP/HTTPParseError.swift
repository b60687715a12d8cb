/// Why a request could not be read. Every case maps to the status the client receives,
/// after which the connection is closed (the framing can no longer be trusted).
public enum HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    case badRequest(String)
    case uriTooLong
    case headersTooLarge
    case bodyTooLarge
    case expectationFailed
    case versionNotSupported
    /// The client took too long to send its request.
    case requestTimeout

    public var status: HTTPStatus {
        switch self {
        case .badRequest: 400
        case .uriTooLong: 414
        case .headersTooLarge: 431
        case .bodyTooLarge: 413
        case .expectationFailed: 417
        case .versionNotSupported: 505
        case .requestTimeout: 408
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let why): "Bad request: \(why)"
        case .uriTooLong: "Request line too long"
        case .headersTooLarge: "Request header fields too large"
        case .bodyTooLarge: "Request body too large"
        case .expectationFailed: "Unsupported Expect header"
        case .versionNotSupported: "HTTP version not supported"
        case .requestTimeout: "Timed out waiting for the request"
        }
    }
}

/// The front-end limits (docs/ARCHITECTURE.md); every one is configurable.
public struct HTTPLimits: Sendable {
    public var maxRequestLine = 8 * 1024
    public var maxHeaderBytes = 64 * 1024
    public var maxHeaderFields = 100
    public var maxBodyBytes = 1024 * 1024
    /// Longest chunk-size or trailer line accepted.
    public var maxChunkLine = 4 * 1024
    /// Empty lines (CRLF) ignored before one request line (RFC 9112 §2.2); one more is a 400.
    public var maxEmptyLines = 8

    public init() {}
}
