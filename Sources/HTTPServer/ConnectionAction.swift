import HTTP

/// What a connection does next, as `ConnectionStateMachine` decides it and `Connection` carries it
/// out. An action whose outcome matters names the machine event that reports it.
enum ConnectionAction {
    /// Nothing until the next event; wait for `ConnectionStateMachine.interest`.
    case wait
    /// Hand the request to the handler, then report `handlerReturned`.
    case dispatch(HTTPRequest, requestID: UInt64)
    /// Ask the handler for the response to an unreadable (or too slow) request, then report
    /// `failureAnswered`. A request timeout is logged: it points at slow or hostile clients.
    case answerFailure(HTTPParseError)
    /// Send the unsent output once, then report `wrote`, `writeWouldBlock` or `writeFailed`.
    case write
    /// The client went away while its request is being answered: run the handler's
    /// `onClientGone` action, then report `clientGoneNotified`.
    case notifyClientGone
    /// Shut down the sending side (everything is sent) and keep draining input until the client
    /// closes (lingering close).
    case halfClose
    /// Close the socket (and tell a handler still answering that its client is gone).
    case close(ConnectionCloseReason)
    /// Close with a reset (SO_LINGER 0): the handler asked for it.
    case reset
}

/// Why a connection is closed. A write timeout is logged: the client stopped reading.
enum ConnectionCloseReason: Equatable {
    /// The last response is sent and the client has closed its side.
    case finished
    /// The client closed its side between requests or in the middle of one.
    case clientClosed
    case readFailed
    case writeFailed
    /// A keep-alive connection sent nothing for the idle timeout.
    case idleTimeout
    /// Answers waited for the client to read them (or, lingering, for it to close) past the
    /// timeout.
    case writeTimeout
    /// As `writeTimeout`, while a request is being answered (a 100 Continue or an earlier answer
    /// went unread).
    case writeTimeoutWhileAnswering
    /// The event loop stopped.
    case loopStopped
}
