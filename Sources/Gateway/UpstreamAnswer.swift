import HTTP
import Studio
import Upstream

/// An upstream answer read once: its body in the Execution view (Studio URLs pointing at the
/// gateway) and, from the same pass, what the cache learns from it. Every later step (proof,
/// policy, the entry, the response) uses this instead of parsing the body again.
struct UpstreamAnswer: Sendable {
    let status: HTTPStatus
    /// Content-Type, Twilio-Request-Id, WWW-Authenticate: the fields passed on to clients.
    let headers: HTTPHeaders
    /// The Execution view of the body (the body as received when it is not a JSON object).
    let body: [UInt8]
    /// Nil when the body is not a JSON object.
    let facts: ExecutionFacts?

    init(_ response: UpstreamResponse, view: URLRewrite) {
        status = response.status
        headers = response.headers
        if let read = StudioJSONRewriter.rewriteAndRead(response.body, view) {
            body = read.bytes
            facts = read.facts
        } else {
            body = response.body
            facts = nil
        }
    }

    /// A 2xx whose body is not a JSON object (HTML from a proxy, a truncated or garbled body):
    /// never cached, never attributed, answered 502 (or stale).
    var isMalformedSuccess: Bool { status.isSuccess && status != 204 && facts == nil }
}
