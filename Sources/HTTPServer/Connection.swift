import EventLoop
import Glibc
import HTTP

/// One client connection as I/O: reads into the loop's buffer, tells `ConnectionStateMachine`
/// what happened and carries out the actions it returns (send, epoll interest, shutdown, close,
/// calling the handler) in one loop, `run`. The HTTP rules (pipelining, backpressure, timeouts)
/// are the machine's.
///
/// `@unchecked Sendable`: a `Responder` carries a reference across threads, but every method
/// here runs on `loop`'s thread (`Responder.reply` hops there first).
final class Connection: EventHandler, @unchecked Sendable {
    let fd: Int32
    let loop: EventLoop
    private unowned let context: LoopContext
    // Every access is on the loop's thread and `run` never re-enters (a reply from inside the
    // handler only queues), so the runtime's exclusivity check (≈70 instructions an access,
    // several per request) has nothing to catch here.
    @exclusivity(unchecked) private var machine: ConnectionStateMachine
    /// The events `fd` is registered for.
    @exclusivity(unchecked) private var registered = ConnectionInterest()
    /// What the handler chose to remember about this connection (see `Responder.connectionMemo`).
    var handlerMemo: (any AnyObject & Sendable)? = nil
    /// What to run if the client goes away while the current request is being answered.
    private var clientGone: (() -> Void)? = nil

    init(fd: Int32, context: LoopContext) {
        self.fd = fd
        self.loop = context.loop
        self.context = context
        self.machine = ConnectionStateMachine(tuning: context.tuning, now: MonotonicClock.now())
    }

    func start() throws(Errno) {
        registered = machine.interest
        try loop.register(fd, events: registered.rawValue, handler: self)
        context.connections[fd] = self
        context.configuration.connections?.opened()
    }

    // MARK: events

    func handleEvents(_ events: UInt32) {
        let now = MonotonicClock.now()
        if events & EpollEvents.writable != 0 { run(machine.writable(now: now), now: now) }
        if events & (EpollEvents.readable | EpollEvents.hangup) != 0 { readAvailable(now: now) }
    }

    private func readAvailable(now: UInt64) {
        guard !machine.isClosed else { return }
        let result = context.readBuffer.withUnsafeMutableBytes { buffer in
            Result { () throws(Errno) in try Socket.read(fd, into: buffer) }
        }
        switch result {
        case .failure:
            run(machine.readFailed(), now: now)
        case .success(.wouldBlock):
            return
        case .success(.processed(0)):
            run(machine.inputEnded(now: now), now: now)
        case .success(.processed(let count)):
            let action = context.readBuffer.withUnsafeBytes { buffer in
                machine.bytesRead(UnsafeRawBufferPointer(rebasing: buffer[..<count]), now: now)
            }
            run(action, now: now)
        }
    }

    /// Called by `Responder` on the loop thread.
    func deliver(_ reply: HTTPReply, requestID: UInt64) {
        guard let action = machine.replyDelivered(reply, requestID: requestID, date: context.date) else { return }
        clientGone = nil
        if case .wait = action { return }  // answered from inside `handle`: sent once it returns
        run(action, now: MonotonicClock.now())
    }

    func watchClientGone(requestID: UInt64, _ action: @escaping () -> Void) {
        guard machine.isAnswering(requestID) else { return }
        if machine.inputClosed {
            action()
        } else {
            clientGone = action
        }
    }

    func checkDeadline(now: UInt64) {
        guard now >= machine.deadline else { return }
        run(machine.timerFired(now: now), now: now)
    }

    func loopDidStop() { run(machine.loopStopped(), now: MonotonicClock.now()) }

    // MARK: actions

    /// Carries out `first` and whatever the machine answers to its outcome, until it says wait.
    /// (A reply from inside `handle` only queues: the handler is never called from inside itself.)
    /// Actions are consumed, not copied: a dispatched request reaches the handler without a copy.
    private func run(_ first: consuming ConnectionAction, now: UInt64) {
        var action = first
        while true {
            switch consume action {
            case .wait:
                updateInterest()
                return
            case .dispatch(let request, let requestID):
                context.handler.handle(request, responder: Responder(connection: self, requestID: requestID))
                action = machine.handlerReturned(now: now)
            case .answerFailure(let error):
                if error == .requestTimeout {
                    context.log(cause: "request-timeout", "closing connections that did not send a request in time")
                }
                action = machine.failureAnswered(context.handler.errorResponse(for: error), date: context.date)
            case .write:
                action = send(now: now)
            case .notifyClientGone:
                notifyClientGone()
                action = machine.clientGoneNotified(now: now)
            case .halfClose:
                _ = shutdown(fd, Int32(SHUT_WR))
                action = .wait
            case .close(let reason):
                if reason == .writeTimeout {
                    context.log(cause: "write-timeout", "closing connections that stopped reading or finishing")
                }
                close()
                return
            case .reset:
                Socket.setLingerZero(fd)
                close()
                return
            }
        }
    }

    /// One gather write of the unsent output.
    private func send(now: UInt64) -> ConnectionAction {
        let result = machine.output.withUnsentBytes { head, body in
            Result { () throws(Errno) in try Socket.send(fd, head, body) }
        }
        switch result {
        case .success(.processed(let count)): return machine.wrote(count, now: now)
        case .success(.wouldBlock): return machine.writeWouldBlock(now: now)
        case .failure: return machine.writeFailed()
        }
    }

    private func updateInterest() {
        guard !machine.isClosed else { return }
        let wanted = machine.interest
        if wanted != registered {
            registered = wanted
            loop.modify(fd, events: wanted.rawValue)
        }
    }

    private func notifyClientGone() {
        let action = clientGone
        clientGone = nil
        action?()
    }

    private func close() {
        loop.deregister(fd)
        Socket.close(fd)
        context.connections[fd] = nil
        context.configuration.connections?.closed()
        notifyClientGone()  // set only while a request is being answered
    }
}
