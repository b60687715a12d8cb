import EventLoop

/// One pipelined connection of a loop's pool. Commands go out as they come, without waiting for
/// earlier replies; replies answer the oldest unanswered command (`pending`).
///
/// The I/O of `RedisConnectionStateMachine`, which decides the lifecycle: connect, log in (AUTH
/// and SELECT first), come back by itself after a backoff. A command that misses its deadline fails
/// with `.timeout` and closes the connection (a reply arriving later would be taken as the answer
/// to the next command).
final class RedisConnection: RedisSocketDelegate {
    private let context: RedisLoopContext
    private var loop: EventLoop { context.loop }
    private var machine: RedisConnectionStateMachine
    private var socket: RedisSocket?
    private var pending = PendingReplies()
    private var reconnectTimer: LoopTimers.ID? = nil
    /// At the earliest of the connect deadline and the pending commands' deadlines.
    private lazy var deadlineTimer = EarliestDeadlineTimer(scheduler: loop) { [weak self] now in
        self?.deadlinePassed(now: now)
    }
    /// Told when the connection becomes ready (nil) or goes down (why), so the pool can move the
    /// commands waiting for a connection and say why there is none.
    var onChange: ((RedisError?) -> Void)? = nil

    init(context: RedisLoopContext) {
        self.context = context
        machine = RedisConnectionStateMachine(
            connectTimeoutMilliseconds: context.options.connectTimeoutMilliseconds,
            handshakeReplies: context.handshake(selectDatabase: true).count, backoff: context.backoff(),
            usesTLS: context.url.usesTLS)
    }

    var isReady: Bool { machine.isReady }
    var isConnecting: Bool { machine.isConnecting }

    func connect() { perform(machine.connectRequested()) }

    func send(_ command: RedisCommand, deadline: UInt64, completion: @escaping ReplyHandler) {
        guard machine.isReady, let socket, socket.isWritable else {
            completion(.failure(.notConnected("the connection is down")))
            return
        }
        guard pending.count < context.options.maxPendingCommands, socket.write(command) else {
            completion(.failure(.backpressure))
            return
        }
        pending.append(PendingReply(deadline: deadline, completion: completion))
        deadlineTimer.arm(at: deadline)
    }

    func stop() {
        deadlineTimer.cancel()
        perform(machine.stop())
    }

    // MARK: RedisSocketDelegate

    func socketConnected(_ socket: RedisSocket) { perform(machine.socketConnected()) }

    func socketSecured(_ socket: RedisSocket) { perform(machine.tlsEstablished()) }

    func socket(_ socket: RedisSocket, received value: RESPValue) {
        guard let reply = pending.popFirst() else {
            socket.close(.unexpectedReply("a reply to no command"))
            return
        }
        if pending.isEmpty, machine.isReady { deadlineTimer.cancel() }
        if case .error(let message) = value {
            reply.completion(.failure(.server(message)))
        } else {
            reply.completion(.success(value))
        }
    }

    func socket(_ socket: RedisSocket, closedWith error: RedisError) {
        self.socket = nil
        deadlineTimer.cancel()
        perform(machine.socketClosed(error))
    }

    // MARK: actions

    private func perform(_ action: RedisConnectionStateMachine.Action) {
        switch action {
        case .none:
            break
        case .openSocket(let attempt):
            switch context.openSocket(delegate: self, attempt: attempt) {
            case .failure(let error):
                perform(machine.openFailed(error))
            case .success(let socket):
                self.socket = socket
                perform(machine.socketOpened(now: MonotonicClock.now()))
            }
        case .sendHandshake(let deadline):
            sendHandshake(deadline: deadline)
        case .armTimer(let at):
            deadlineTimer.arm(at: at)
        case .closeSocket(let reason):
            socket?.close(reason)
        case .notifyReady:
            if pending.isEmpty { deadlineTimer.cancel() }
            context.stats.connectionsOpened.wrappingAdd(1, ordering: .relaxed)
            onChange?(nil)
        case .scheduleReconnect(let delay, let error):
            scheduleReconnect(after: delay, down: error)
        case .failPending(let error, let neverReady, let reconnectAfter):
            // A host name may have moved: a connection that never came up has the resolver look again.
            if neverReady { context.resolver.connectFailed() }
            failPending(error)
            if let reconnectAfter { scheduleReconnect(after: reconnectAfter, down: error) }
        case .cancelReconnect:
            if let reconnectTimer { loop.cancel(reconnectTimer) }
            reconnectTimer = nil
        }
    }

    private func sendHandshake(deadline: UInt64) {
        guard let socket else { return }
        for command in context.handshake(selectDatabase: true) {
            guard socket.write(command) else {
                socket.close(.notConnected("the login does not fit the output buffer"))
                return
            }
            let name = command.name
            pending.append(
                PendingReply(deadline: deadline) { [weak self] result in
                    self?.handshakeAnswered(result, command: name)
                })
        }
    }

    private func handshakeAnswered(_ result: Result<RESPValue, RedisError>, command: String) {
        switch result {
        case .success: perform(machine.handshakeReplied())
        case .failure(let error): perform(machine.handshakeFailed(command: command, error: error))
        }
    }

    private func failPending(_ error: RedisError) {
        let now = MonotonicClock.now()
        for reply in pending.removeAll() {
            // Only the commands whose deadline passed timed out; the others lost their connection.
            if error == .timeout, reply.deadline > now {
                reply.completion(.failure(.connectionClosed("an earlier command on the connection timed out")))
            } else {
                reply.completion(.failure(error))
            }
        }
    }

    private func scheduleReconnect(after delay: UInt64, down error: RedisError) {
        context.stats.connectionFailures.wrappingAdd(1, ordering: .relaxed)
        context.options.onConnectionFailure?(error)
        if reconnectTimer == nil {
            reconnectTimer = loop.schedule(after: delay) { [weak self] in
                guard let self else { return }
                reconnectTimer = nil
                perform(machine.reconnectTimerFired())
            }
        }
        onChange?(error)
    }

    /// The timer's next deadline, unless the connection closed.
    private func deadlinePassed(now: UInt64) -> UInt64? {
        let action = machine.deadlineTimerFired(now: now, earliestCommandDeadline: pending.earliestDeadline)
        if case .armTimer(let next) = action { return next }
        perform(action)
        return nil
    }
}
