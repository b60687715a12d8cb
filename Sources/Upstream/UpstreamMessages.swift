import HTTP

public struct UpstreamRequest: Sendable {
    public var method: String
    /// Path and query, e.g. `/v2/Flows/FW…/Executions?PageSize=5`.
    public var pathAndQuery: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String, pathAndQuery: String, headers: HTTPHeaders, body: [UInt8] = []) {
        self.method = method
        self.pathAndQuery = pathAndQuery
        self.headers = headers
        self.body = body
    }

    /// GET and HEAD: safe to send again; everything else reaches the upstream at most once.
    public var isRead: Bool { method == "GET" || method == "HEAD" }
}

public struct UpstreamResponse: Sendable {
    public var status: HTTPStatus
    /// Only the end-to-end fields the gateway passes on (Content-Type, Twilio-Request-Id,
    /// WWW-Authenticate). The body is always identity: a gzip answer is inflated (with a cap).
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

public enum UpstreamFailure: Error, Equatable, Sendable {
    /// Could not connect, TLS refused, connection reset, a write that could not be sent once: 502.
    case unreachable(String)
    /// No complete answer within the deadline: the client gets 504.
    case timeout
    /// A success status with a body that is not Studio JSON (or corrupt gzip): 502, nothing cached.
    case invalidResponse
    /// The answer is larger than the gateway takes (compressed or inflated): 502, nothing cached.
    case bodyTooLarge(limit: Int)
    /// Too many calls already in flight and the queue deadline passed: the client gets 503.
    case overloaded
    /// Every client waiting for the call went away; nobody is answered.
    case cancelled
}
