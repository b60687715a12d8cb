import EventLoop
import HTTP

/// The application behind the server. `handle` runs on an event loop thread and must not block:
/// it answers through `responder`, at once or later from any thread.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest, responder: Responder)
    /// The response sent before closing a connection whose request could not be read.
    func errorResponse(for error: HTTPParseError) -> HTTPResponse
}

extension HTTPHandler {
    public func errorResponse(for error: HTTPParseError) -> HTTPResponse {
        HTTPResponse(status: error.status, headers: ["Content-Type": "text/plain"], text: error.description + "\n")
    }
}

/// Answers one request. Sendable so a handler can finish on another thread; the reply hops
/// back to the connection's loop. Only the first reply counts.
public struct Responder: Sendable {
    let connection: Connection
    let requestID: UInt64

    public func reply(_ reply: HTTPReply) {
        let connection = self.connection
        let requestID = self.requestID
        if connection.loop.inEventLoop {
            connection.deliver(reply, requestID: requestID)
        } else {
            connection.loop.execute { connection.deliver(reply, requestID: requestID) }
        }
    }

    public func respond(_ response: HTTPResponse) { reply(.response(response)) }

    /// The loop that owns the connection; `handle` runs on it, and work started there answers there.
    public var loop: EventLoop { connection.loop }

    /// Runs `action` once if the client goes away (closes or shuts down its side) before this
    /// request is answered, so the handler can stop work nobody will read. Call from `handle`.
    public func onClientGone(_ action: @escaping () -> Void) {
        precondition(connection.loop.inEventLoop)
        connection.watchClientGone(requestID: requestID, action)
    }

    /// One value the handler keeps for the lifetime of the connection (e.g. work derived from a
    /// header that keep-alive clients repeat on every request). Only for use inside `handle`,
    /// which runs on the connection's loop; it is dropped when the connection closes.
    /// An object, so reading it back is a class cast, not an existential one (every request).
    public var connectionMemo: (any AnyObject & Sendable)? {
        get {
            precondition(connection.loop.inEventLoop)
            return connection.handlerMemo
        }
        nonmutating set {
            precondition(connection.loop.inEventLoop)
            connection.handlerMemo = newValue
        }
    }
}
