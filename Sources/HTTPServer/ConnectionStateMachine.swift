import HTTP

/// One client connection's HTTP/1.1 rules without any I/O: events go in (bytes read, end of
/// input, a reply, bytes written, the clock), `ConnectionAction`s come out, and `Connection`
/// carries them out. Time comes with the events (`now`, monotonic nanoseconds), so tests drive the
/// timeouts with a clock of their own. Modelled on Hummingbird's `HTTPConnectionStateHandler`.
///
/// Requests are taken one at a time: pipelined requests wait in `input` until the current one is
/// answered, so answers go out in order. A reply given from inside `handle` is queued and sent
/// once `handle` returns, and only then is the next request taken: the handler is never called
/// from inside itself.
///
/// Backpressure both ways: while a request is being answered, reading pauses once
/// `maxBufferedWhileBusy` bytes wait unparsed; while the output is full (`OutputQueue.isFull`) no
/// further request is taken and reading pauses, so a client that pipelines and never reads cannot
/// make the server queue answers without bound.
struct ConnectionStateMachine {
    /// The request being answered, and how its answer is framed.
    struct RequestInFlight {
        let id: UInt64
        let headOnly: Bool
        let keepAlive: Bool
        /// An HTTP/1.0 request asked to keep the connection; the answer says
        /// `Connection: keep-alive` or the client closes it (RFC 9112 §9.3).
        let announceKeepAlive: Bool
    }

    enum State {
        /// Taking requests from the input.
        case reading
        /// The handler is running with this request: `handle` has not returned yet.
        case handling(RequestInFlight)
        /// `handle` returned; the reply comes later, through the loop.
        case awaitingResponse(RequestInFlight)
        /// Sending a last response; then half-close and drain before closing (lingering close),
        /// so the client reads the response instead of a reset.
        case closing
        case lingering
        case closed
    }

    private(set) var state = State.reading
    private(set) var output: OutputQueue
    /// The client closed its sending side (it may still read).
    private(set) var inputClosed = false
    /// When the current phase times out; `timerFired` says what that means then.
    private(set) var deadline: UInt64
    private var input: InputBuffer
    private var parser: RequestParser
    private var nextRequestID: UInt64 = 0
    /// When the connection last made progress as a connection (opened, or a write went out): the
    /// idle timeout counts from here. Empty lines a client sends between requests do not move it.
    private var idleSince: UInt64
    /// A request has begun arriving: `deadline` is its header timeout (unless a write moved it).
    private var requestStarted = false
    private let tuning: ConnectionTuning

    init(tuning: ConnectionTuning, now: UInt64) {
        self.tuning = tuning
        parser = RequestParser(limits: tuning.limits)
        input = InputBuffer(
            compactionThreshold: tuning.inputCompactionThreshold, keptCapacity: tuning.inputKeptCapacity)
        output = OutputQueue(
            maxUnsentBytes: tuning.maxUnsentOutput, compactionThreshold: tuning.outputCompactionThreshold,
            keptCapacity: tuning.outputKeptCapacity)
        idleSince = now
        deadline = now + tuning.idleTimeout
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Whether request `id` is the one being answered (a reply to any other is stale).
    func isAnswering(_ id: UInt64) -> Bool {
        switch state {
        case .handling(let request), .awaitingResponse(let request): request.id == id
        default: false
        }
    }

    /// The events to wait for in the current state.
    var interest: ConnectionInterest {
        var wanted = ConnectionInterest.hangup
        switch state {
        case .reading:
            if !inputClosed && !output.isFull { wanted.insert(.readable) }
        case .handling, .awaitingResponse:
            if !inputClosed && input.unparsedCount < tuning.maxBufferedWhileBusy { wanted.insert(.readable) }
        case .lingering:
            if !inputClosed { wanted.insert(.readable) }
        case .closing, .closed:
            break
        }
        if output.hasUnsentBytes { wanted.insert(.writable) }
        if inputClosed { wanted.subtract(.hangup) }  // RDHUP would fire forever
        return wanted
    }

    // MARK: input

    mutating func bytesRead(_ bytes: UnsafeRawBufferPointer, now: UInt64) -> ConnectionAction {
        switch state {
        case .lingering, .closed:
            return .wait  // lingering: only waiting for the client to finish
        case .handling, .awaitingResponse:
            input.append(bytes)  // pipelined: kept until the current request is answered
            return .wait
        case .reading, .closing:
            input.append(bytes)
            return takeRequests(now: now)
        }
    }

    /// The client closed its sending side (read returned 0).
    mutating func inputEnded(now: UInt64) -> ConnectionAction {
        if isClosed { return .wait }
        inputClosed = true
        // As nginx does: end of input while an answer is being prepared means the client is gone.
        switch state {
        case .handling, .awaitingResponse: return .notifyClientGone
        default: return afterInputEnded(now: now)
        }
    }

    mutating func clientGoneNotified(now: UInt64) -> ConnectionAction { afterInputEnded(now: now) }

    mutating func readFailed() -> ConnectionAction { isClosed ? .wait : close(.readFailed) }

    private mutating func afterInputEnded(now: UInt64) -> ConnectionAction {
        switch state {
        case .lingering: close(.finished)
        case .handling, .awaitingResponse, .closed: .wait  // answer the current request first
        case .reading, .closing: takeRequests(now: now)
        }
    }

    /// Parses and dispatches buffered requests while the connection is free to take one.
    private mutating func takeRequests(now: UInt64) -> ConnectionAction {
        while case .reading = state {
            if output.isFull {
                input.compact()  // resumed once the client reads (`afterWrite`)
                return .wait
            }
            switch input.parse({ parser.parse($0) }) {
            case .needMoreData:
                // Went away between requests or mid-request: nothing to answer.
                if inputClosed { return close(.clientClosed) }
                if !parser.isIdle(bufferedBytes: input.unparsedCount) {
                    startRequestTimer(now: now)
                } else {
                    // Idle (perhaps after empty lines, RFC 9112 §2.2, which the parser bounds): the
                    // idle timeout runs from the last real progress, not from these bytes.
                    requestStarted = false
                    if !output.hasUnsentBytes { deadline = idleSince + tuning.idleTimeout }
                }
                input.compact()
                return .wait
            case .headReceived(let expectsContinue):
                startRequestTimer(now: now)
                if expectsContinue { output.append(ResponseSerializer.continueResponse) }
            case .request(let request):
                requestStarted = false
                nextRequestID &+= 1
                let keepAlive = request.keepAlive
                state = .handling(
                    RequestInFlight(
                        id: nextRequestID, headOnly: request.method == "HEAD", keepAlive: keepAlive,
                        announceKeepAlive: keepAlive && request.version == .http10))
                input.compact()
                return .dispatch(request, requestID: nextRequestID)
            case .failed(let error):
                return fail(error)
            }
        }
        return flush(now: now)
    }

    /// An unreadable request is answered, then the connection closes: its framing cannot be trusted.
    private mutating func fail(_ error: HTTPParseError) -> ConnectionAction {
        state = .closing
        return .answerFailure(error)
    }

    private mutating func startRequestTimer(now: UInt64) {
        guard !requestStarted else { return }
        requestStarted = true
        deadline = now + tuning.headerTimeout
    }

    // MARK: answers

    /// `handle` returned: send what it queued (its answer, or a 100 Continue waiting for the body).
    mutating func handlerReturned(now: UInt64) -> ConnectionAction {
        switch state {
        case .handling(let request):
            state = .awaitingResponse(request)
            return flush(now: now)
        case .reading, .closing:
            return flush(now: now)
        case .awaitingResponse, .lingering, .closed:
            return .wait
        }
    }

    /// The handler's reply to request `requestID`; nil if that request is not the one being
    /// answered (a stale or second reply), which is ignored.
    mutating func replyDelivered(_ reply: HTTPReply, requestID: UInt64, date: String) -> ConnectionAction? {
        let request: RequestInFlight
        let fromInsideHandle: Bool
        switch state {
        case .handling(let current) where current.id == requestID:
            (request, fromInsideHandle) = (current, true)
        case .awaitingResponse(let current) where current.id == requestID:
            (request, fromInsideHandle) = (current, false)
        default:
            return nil
        }
        switch reply {
        case .resetConnection:
            state = .closed
            input.drop()
            output.drop()
            return .reset
        case .raw(let bytes):
            output.append(bytes)
            state = .closing
        case .response(let response):
            let closeAfter = !request.keepAlive || inputClosed
            output.appendResponse(
                head: {
                    ResponseSerializer.serializeHead(
                        response, into: &$0, headOnly: request.headOnly, close: closeAfter,
                        keepAlive: request.announceKeepAlive, date: date)
                }, body: response.body)
            state = closeAfter ? .closing : .reading
        }
        return fromInsideHandle ? .wait : .write
    }

    /// The handler's response to the failure `answerFailure` reported.
    mutating func failureAnswered(_ response: HTTPResponse, date: String) -> ConnectionAction {
        guard case .closing = state else { return .wait }
        output.appendResponse(
            head: {
                ResponseSerializer.serializeHead(response, into: &$0, headOnly: false, close: true, date: date)
            }, body: response.body)
        return .write
    }

    // MARK: output

    /// The socket can take more output.
    mutating func writable(now: UInt64) -> ConnectionAction { flush(now: now) }

    mutating func wrote(_ count: Int, now: UInt64) -> ConnectionAction {
        output.markSent(count)
        if count > 0 {
            idleSince = now
            deadline = now + tuning.idleTimeout
        }
        return output.hasUnsentBytes ? .write : allSent(now: now)
    }

    /// The rest waits for `writable`.
    mutating func writeWouldBlock(now: UInt64) -> ConnectionAction { afterWrite(now: now) }

    mutating func writeFailed() -> ConnectionAction { isClosed ? .wait : close(.writeFailed) }

    private mutating func flush(now: UInt64) -> ConnectionAction {
        if isClosed { return .wait }
        return output.hasUnsentBytes ? .write : allSent(now: now)
    }

    private mutating func allSent(now: UInt64) -> ConnectionAction {
        guard case .closing = state else { return afterWrite(now: now) }
        if inputClosed { return close(.finished) }
        state = .lingering
        input.drop()
        deadline = now + tuning.lingerTimeout
        return .halfClose
    }

    /// The client read some output: if that brought it back under its cap, take requests again.
    private mutating func afterWrite(now: UInt64) -> ConnectionAction {
        guard case .reading = state else { return .wait }
        return takeRequests(now: now)
    }

    // MARK: time and ending

    /// The clock reached `deadline` (or not yet: nothing happens). What it means depends on the
    /// state then, as a write or a new request may have moved it since it was set.
    mutating func timerFired(now: UInt64) -> ConnectionAction {
        guard now >= deadline else { return .wait }
        switch state {
        case .reading where !output.hasUnsentBytes:
            return requestStarted ? fail(.requestTimeout) : close(.idleTimeout)
        case .reading, .closing, .lingering:
            return close(.writeTimeout)
        case .handling, .awaitingResponse:
            // The handler takes the time it needs; only output the client leaves unread times out.
            return output.hasUnsentBytes ? close(.writeTimeoutWhileAnswering) : .wait
        case .closed:
            return .wait
        }
    }

    mutating func loopStopped() -> ConnectionAction { isClosed ? .wait : close(.loopStopped) }

    private mutating func close(_ reason: ConnectionCloseReason) -> ConnectionAction {
        state = .closed
        input.drop()
        output.drop()
        return .close(reason)
    }
}
