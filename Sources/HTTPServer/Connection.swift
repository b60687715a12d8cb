import EventLoop
import Glibc
import HTTP

/// One client connection: reads and parses requests, hands them to the handler one at a time
/// (pipelined requests wait in the buffer, so answers go out in order), writes the answers.
///
/// Backpressure both ways: while a request is being answered, reading pauses once
/// `maxBufferedWhileBusy` bytes wait unparsed; while more than `maxUnsentOutput` answer bytes wait
/// for the client to read them, no further request is taken and reading pauses (a client that
/// pipelines and never reads cannot make the server queue answers without bound).
///
/// `@unchecked Sendable`: a `Responder` carries a reference across threads, but every method
/// here runs on `loop`'s thread (`Responder.reply` hops there first).
final class Connection: EventHandler, @unchecked Sendable {
    private enum State {
        case reading
        /// `announceKeepAlive`: an HTTP/1.0 request asked to keep the connection; the answer says
        /// `Connection: keep-alive` or the client closes it (RFC 9112 §9.3).
        case awaitingResponse(id: UInt64, headOnly: Bool, keepAlive: Bool, announceKeepAlive: Bool)
        /// Writing a last response; then half-close and drain before closing (lingering close),
        /// so the client reads the response instead of a reset.
        case closing
        case lingering
        case closed
    }

    let fd: Int32
    let loop: EventLoop
    private unowned let context: LoopContext
    private var state = State.reading
    private var parser: RequestParser
    private var input: [UInt8] = []
    private var inputIndex = 0
    private var output: [UInt8] = []
    private var outputIndex = 0
    /// The last response's body, sent after `output` by one gather write instead of being copied
    /// into it. Anything queued behind it first moves it into `output` (`settleBody`).
    private var body: [UInt8] = []
    private var bodyIndex = 0
    private var inputClosed = false
    private var processing = false
    private var nextRequestID: UInt64 = 0
    private var interest: UInt32 = 0
    /// When the current phase times out, and what to do then.
    private var deadline: UInt64 = 0
    /// When the connection last made progress as a connection (opened, or a write went out): the
    /// idle timeout counts from here. Empty lines a client sends between requests do not move it.
    private var idleSince: UInt64 = 0
    private var requestStart: UInt64? = nil
    /// What the handler chose to remember about this connection (see `Responder.connectionMemo`).
    var handlerMemo: (any Sendable)? = nil
    /// What to run if the client goes away while the current request is being answered.
    private var clientGone: (() -> Void)? = nil

    /// Unparsed input kept while a request is being answered before reading pauses (backpressure).
    private static let maxBufferedWhileBusy = 128 * 1024

    init(fd: Int32, context: LoopContext) {
        self.fd = fd
        self.loop = context.loop
        self.context = context
        self.parser = RequestParser(limits: context.configuration.limits)
        self.idleSince = MonotonicClock.now()
        self.deadline = idleSince + MonotonicClock.nanoseconds(context.configuration.idleTimeout)
    }

    func start() throws(Errno) {
        interest = EpollEvents.readable | EpollEvents.hangup
        try loop.register(fd, events: interest, handler: self)
        context.connections[fd] = self
        context.configuration.connections?.opened()
    }

    // MARK: events

    func handleEvents(_ events: UInt32) {
        if events & EpollEvents.writable != 0 {
            let wasFull = outputIsFull
            flush()
            if wasFull, !outputIsFull, case .reading = state { processInput() }  // the client read: take requests again
        }
        if events & (EpollEvents.readable | EpollEvents.hangup) != 0 { readAvailable() }
    }

    private func readAvailable() {
        guard !isClosed else { return }
        let result = context.readBuffer.withUnsafeMutableBytes { buffer in
            Result { () throws(Errno) in try Socket.read(fd, into: buffer) }
        }
        switch result {
        case .failure:
            close()
            return
        case .success(.wouldBlock):
            return
        case .success(.processed(0)):
            inputClosed = true
            // As nginx does: end of input while an answer is being prepared means the client is gone.
            if case .awaitingResponse = state { notifyClientGone() }
        case .success(.processed(let count)):
            if case .lingering = state { return }  // discard: we only wait for the client to finish
            input.append(contentsOf: context.readBuffer[0..<count])
        }
        if case .lingering = state {
            close()
            return
        }
        if case .awaitingResponse = state {
            // The client half-closed or pipelined more: keep it, answer the current request first.
            updateInterest()
            return
        }
        processInput()
    }

    /// Parses and dispatches buffered requests while the connection is free to take one.
    private func processInput() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while case .reading = state {
            if outputIsFull {
                // Resumed from handleEvents once the client reads (updateInterest stops reading).
                compactInput()
                updateInterest()
                return
            }
            let (consumed, event) = input.withUnsafeBytes { bytes in
                parser.parse(UnsafeRawBufferPointer(rebasing: bytes[inputIndex...]))
            }
            inputIndex += consumed
            switch event {
            case .needMoreData:
                if inputClosed {
                    // Client went away between requests or mid-request: nothing to answer.
                    close()
                    return
                }
                if !parser.isIdle(bufferedBytes: input.count - inputIndex) {
                    startRequestTimer()
                } else {
                    // Idle (perhaps after empty lines, RFC 9112 §2.2, which the parser bounds): the
                    // idle timeout runs from the last real progress, not from these bytes.
                    requestStart = nil
                    if !hasUnsentOutput {
                        deadline = idleSince + MonotonicClock.nanoseconds(context.configuration.idleTimeout)
                    }
                }
                compactInput()
                updateInterest()
                return
            case .headReceived(let expectsContinue):
                startRequestTimer()
                if expectsContinue {
                    settleBody()
                    output.append(contentsOf: ResponseSerializer.continueResponse)
                }
            case .request(let request):
                requestStart = nil
                nextRequestID &+= 1
                let keepAlive = request.keepAlive
                state = .awaitingResponse(
                    id: nextRequestID, headOnly: request.method == "HEAD", keepAlive: keepAlive,
                    announceKeepAlive: keepAlive && request.version == .http10)
                compactInput()
                updateInterest()
                context.handler.handle(request, responder: Responder(connection: self, requestID: nextRequestID))
            case .failed(let error):
                fail(error)
                return
            }
        }
        flush()
    }

    /// Answers an unreadable request and closes: its framing cannot be trusted.
    private func fail(_ error: HTTPParseError) {
        let response = context.handler.errorResponse(for: error)
        settleBody()
        ResponseSerializer.serialize(response, into: &output, headOnly: false, close: true, date: context.date)
        state = .closing
        flush()
    }

    func watchClientGone(requestID: UInt64, _ action: @escaping () -> Void) {
        guard case .awaitingResponse(let id, _, _, _) = state, id == requestID else { return }
        if inputClosed {
            action()
        } else {
            clientGone = action
        }
    }

    private func notifyClientGone() {
        let action = clientGone
        clientGone = nil
        action?()
    }

    /// Called by `Responder` on the loop thread.
    func deliver(_ reply: HTTPReply, requestID: UInt64) {
        guard case .awaitingResponse(let id, let headOnly, let keepAlive, let announceKeepAlive) = state,
            id == requestID
        else { return }
        clientGone = nil
        switch reply {
        case .resetConnection:
            Socket.setLingerZero(fd)
            close()
        case .raw(let bytes):
            settleBody()
            output.append(contentsOf: bytes)
            state = .closing
            flush()
        case .response(let response):
            let closeAfter = !keepAlive || inputClosed
            settleBody()
            if ResponseSerializer.serializeHead(
                response, into: &output, headOnly: headOnly, close: closeAfter,
                keepAlive: announceKeepAlive, date: context.date)
            {
                body = response.body
                bodyIndex = 0
            }
            state = closeAfter ? .closing : .reading
            flush()
            if case .reading = state { processInput() }
        }
    }

    // MARK: writing

    private func flush() {
        guard !isClosed else { return }
        while hasUnsentOutput {
            let result = output.withUnsafeBytes { head in
                body.withUnsafeBytes { body in
                    Result { () throws(Errno) in
                        try Socket.send(
                            fd, UnsafeRawBufferPointer(rebasing: head[outputIndex...]),
                            UnsafeRawBufferPointer(rebasing: body[bodyIndex...]))
                    }
                }
            }
            switch result {
            case .success(.processed(let count)):
                let fromHead = min(count, output.count - outputIndex)
                outputIndex += fromHead
                bodyIndex += count - fromHead
                if outputIndex >= 64 * 1024, outputIndex * 2 >= output.count {
                    // A client that keeps the queue from emptying must not keep what was sent.
                    output.removeFirst(outputIndex)
                    outputIndex = 0
                }
                idleSince = MonotonicClock.now()
                deadline = idleSince + MonotonicClock.nanoseconds(context.configuration.idleTimeout)
            case .success(.wouldBlock):
                updateInterest()
                return
            case .failure:
                close()
                return
            }
        }
        body = []
        bodyIndex = 0
        output.removeAll(keepingCapacity: output.capacity <= 256 * 1024)
        outputIndex = 0
        if case .closing = state {
            beginLingeringClose()
            return
        }
        updateInterest()
    }

    private func beginLingeringClose() {
        if inputClosed {
            close()
            return
        }
        _ = shutdown(fd, Int32(SHUT_WR))
        state = .lingering
        input = []
        inputIndex = 0
        setDeadline(2)
        updateInterest()
    }

    // MARK: bookkeeping

    private var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    private func updateInterest() {
        guard !isClosed else { return }
        var wanted = EpollEvents.hangup
        switch state {
        case .reading:
            if !inputClosed && !outputIsFull { wanted |= EpollEvents.readable }
        case .lingering:
            if !inputClosed { wanted |= EpollEvents.readable }
        case .awaitingResponse:
            if !inputClosed && input.count - inputIndex < Self.maxBufferedWhileBusy { wanted |= EpollEvents.readable }
        case .closing, .closed:
            break
        }
        if hasUnsentOutput { wanted |= EpollEvents.writable }
        if inputClosed { wanted &= ~EpollEvents.hangup }  // RDHUP would fire forever
        if wanted != interest {
            interest = wanted
            loop.modify(fd, events: wanted)
        }
    }

    private var hasUnsentOutput: Bool { outputIndex < output.count || bodyIndex < body.count }

    /// More answer bytes wait for the client than `maxUnsentOutput`: take no request until it reads.
    private var outputIsFull: Bool {
        (output.count - outputIndex) + (body.count - bodyIndex) > context.configuration.maxUnsentOutput
    }

    /// Moves the unsent part of `body` into `output`, so whatever is queued next follows it.
    private func settleBody() {
        guard bodyIndex < body.count else { return }
        output.append(contentsOf: body[bodyIndex...])
        body = []
        bodyIndex = 0
    }

    private func compactInput() {
        if inputIndex == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 64 * 1024)
            inputIndex = 0
        } else if inputIndex > 16 * 1024 {
            input.removeFirst(inputIndex)
            inputIndex = 0
        }
    }

    private func startRequestTimer() {
        if requestStart == nil {
            requestStart = MonotonicClock.now()
            setDeadline(context.configuration.headerTimeout)
        }
    }

    private func setDeadline(_ seconds: Double) {
        deadline = MonotonicClock.now() + MonotonicClock.nanoseconds(seconds)
    }

    func checkDeadline(now: UInt64) {
        guard now >= deadline else { return }
        switch state {
        case .reading where !hasUnsentOutput:
            if requestStart != nil {
                context.log(cause: "request-timeout", "closing connections that did not send a request in time")
                fail(.requestTimeout)
            } else {
                close()  // idle keep-alive connection
            }
        case .reading, .closing, .lingering:
            context.log(cause: "write-timeout", "closing connections that stopped reading or finishing")
            close()
        case .awaitingResponse:
            if hasUnsentOutput { close() }  // stalled on a 100 Continue write
        case .closed:
            break
        }
    }

    func loopDidStop() { close() }

    func close() {
        guard !isClosed else { return }
        let wasAwaiting: Bool
        if case .awaitingResponse = state { wasAwaiting = true } else { wasAwaiting = false }
        state = .closed
        loop.deregister(fd)
        Socket.close(fd)
        context.connections[fd] = nil
        context.configuration.connections?.closed()
        input = []
        output = []
        body = []
        if wasAwaiting { notifyClientGone() }
    }
}
