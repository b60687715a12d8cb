import EventLoop
import HTTP
import HTTPServer

/// Where one request's answer goes: the connection's `Responder` in the server, a recorder in the
/// in-process tests. Everything here is called on `loop` except `respond`, which may be called
/// from any thread.
protocol ClientChannel: Sendable {
    var loop: EventLoop { get }
    func respond(_ response: HTTPResponse)
    /// Runs `action` once if the client leaves before its answer.
    func onClientGone(_ action: @escaping () -> Void)
    /// The credential this connection's previous request carried: keep-alive clients repeat the
    /// same `Authorization`, so base64 and SHA-256 are paid once per connection.
    var knownCaller: CallerCredential? { get nonmutating set }
}

extension Responder: ClientChannel {
    var knownCaller: CallerCredential? {
        get { connectionMemo as? CallerCredential }
        nonmutating set { connectionMemo = newValue }
    }
}
