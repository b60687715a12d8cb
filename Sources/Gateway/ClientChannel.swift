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
    /// What the gateway remembers about this connection; nil before its first request.
    var memo: ConnectionMemo? { get nonmutating set }
}

/// What the gateway keeps for one client connection, found again on each of its requests with one
/// class cast: the credential its previous request carried (keep-alive clients repeat the same
/// `Authorization`, so base64 and SHA-256 are paid once per connection) and its loop's counters
/// (looked up once per connection, not per request).
final class ConnectionMemo: @unchecked Sendable {  // read and written on the connection's loop only
    let counters: LoopCounters
    var caller: CallerCredential?

    init(counters: LoopCounters) { self.counters = counters }
}

extension Responder: ClientChannel {
    var memo: ConnectionMemo? {
        get { connectionMemo as? ConnectionMemo }
        nonmutating set { connectionMemo = newValue }
    }
}
