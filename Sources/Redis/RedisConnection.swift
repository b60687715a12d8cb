import EventLoop

/// One pipelined connection of a loop's pool. Commands go out as they come, without waiting for
/// earlier replies; replies answer the oldest unanswered command (`pending`).
///
/// A command that misses its deadline fails with `.timeout` and closes the connection: a reply
/// arriving later would be taken as the answer to the next command. The connection then comes back
/// by itself after a backoff, with AUTH and SELECT sent first, and is ready once both are answered.
final class RedisConnection: RedisSocketDelegate {
    private let context: RedisLoopContext
    private var loop: EventLoop { context.loop }
    private var socket: RedisSocket?
    private var pending = PendingReplies()
    private var backoff: ReconnectBackoff
    private var reconnectTimer: LoopTimers.ID? = nil
    /// One timer per connection, at (or before) the earliest deadline it must check, rather than
    /// one per command: the loop's timer list is meant for a handful.
    private var deadlineTimer: (id: LoopTimers.ID, at: UInt64)? = nil
    /// Handshake replies still due at the front of `pending`.
    private var handshakeReplies = 0
    /// While connecting or logging in: when to give up.
    private var connectDeadline: UInt64? = nil
    private(set) var isReady = false
    private var stopped = false
    /// Told when the connection becomes ready (nil) or goes down (why), so the pool can move the
    /// commands waiting for a connection and say why there is none.
    var onChange: ((RedisError?) -> Void)? = nil

    init(context: RedisLoopContext) {
        self.context = context
        backoff = context.backoff()
    }

    var isConnecting: Bool { socket != nil && !isReady }

    func connect() {
        guard !stopped, socket == nil else { return }
        switch context.openSocket(delegate: self, attempt: backoff.failures) {
        case .failure(let error):
            context.stats.connectionFailures.wrappingAdd(1, ordering: .relaxed)
            scheduleReconnect()
            onChange?(error)
        case .success(let socket):
            self.socket = socket
            let deadline = context.deadline(afterMilliseconds: context.options.connectTimeoutMilliseconds)
            connectDeadline = deadline
            armDeadline(deadline)
            let handshake = context.handshake(selectDatabase: true)
            handshakeReplies = handshake.count
            for command in handshake {
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
    }

    func send(_ command: RedisCommand, deadline: UInt64, completion: @escaping ReplyHandler) {
        guard isReady, let socket, socket.isWritable else {
            completion(.failure(.notConnected("the connection is down")))
            return
        }
        guard pending.count < context.options.maxPendingCommands, socket.write(command) else {
            completion(.failure(.backpressure))
            return
        }
        pending.append(PendingReply(deadline: deadline, completion: completion))
        armDeadline(deadline)
    }

    func stop() {
        stopped = true
        if let reconnectTimer { loop.cancel(reconnectTimer) }
        reconnectTimer = nil
        cancelDeadlineTimer()
        socket?.close(.stopped)
    }

    // MARK: RedisSocketDelegate

    func socketConnected(_ socket: RedisSocket) {
        if handshakeReplies == 0 { becomeReady() }
    }

    func socket(_ socket: RedisSocket, received value: RESPValue) {
        guard let reply = pending.popFirst() else {
            socket.close(.unexpectedReply("a reply to no command"))
            return
        }
        if pending.isEmpty, isReady { cancelDeadlineTimer() }
        if case .error(let message) = value {
            reply.completion(.failure(.server(message)))
        } else {
            reply.completion(.success(value))
        }
    }

    func socket(_ socket: RedisSocket, closedWith error: RedisError) {
        // A host name may have moved: a connection that never came up has the resolver look again.
        if !isReady, error != .stopped { context.resolver.connectFailed() }
        self.socket = nil
        isReady = false
        handshakeReplies = 0
        connectDeadline = nil
        cancelDeadlineTimer()
        let now = MonotonicClock.now()
        for reply in pending.removeAll() {
            // Only the commands whose deadline passed timed out; the others lost their connection.
            if error == .timeout, reply.deadline > now {
                reply.completion(.failure(.connectionClosed("an earlier command on the connection timed out")))
            } else {
                reply.completion(.failure(error))
            }
        }
        guard error != .stopped, !stopped else { return }
        context.stats.connectionFailures.wrappingAdd(1, ordering: .relaxed)
        scheduleReconnect()
        onChange?(error)
    }

    // MARK: lifecycle

    private func handshakeAnswered(_ result: Result<RESPValue, RedisError>, command: String) {
        switch result {
        case .success:
            handshakeReplies -= 1
            if handshakeReplies == 0 { becomeReady() }
        case .failure(let error):
            // The password and the database are never part of the reason.
            socket?.close(.notConnected("\(command) failed: \(error)"))
        }
    }

    private func becomeReady() {
        isReady = true
        connectDeadline = nil
        backoff.reset()
        if pending.isEmpty { cancelDeadlineTimer() }
        context.stats.connectionsOpened.wrappingAdd(1, ordering: .relaxed)
        onChange?(nil)
    }

    private func scheduleReconnect() {
        guard !stopped, reconnectTimer == nil else { return }
        reconnectTimer = loop.schedule(after: backoff.nextDelay()) { [weak self] in
            guard let self else { return }
            reconnectTimer = nil
            connect()
        }
    }

    // MARK: deadlines

    private func armDeadline(_ at: UInt64) {
        if let current = deadlineTimer {
            if current.at <= at { return }
            loop.cancel(current.id)
        }
        let now = MonotonicClock.now()
        let id = loop.schedule(after: at > now ? at - now : 0) { [weak self] in self?.deadlinePassed() }
        deadlineTimer = (id, at)
    }

    private func cancelDeadlineTimer() {
        if let deadlineTimer { loop.cancel(deadlineTimer.id) }
        deadlineTimer = nil
    }

    private func deadlinePassed() {
        deadlineTimer = nil
        let now = MonotonicClock.now()
        if !isReady, let connectDeadline, connectDeadline <= now {
            socket?.close(.notConnected("no connection within \(context.options.connectTimeoutMilliseconds) ms"))
            return
        }
        let earliest = pending.earliestDeadline
        if let earliest, earliest <= now {
            socket?.close(.timeout)
            return
        }
        if let next = [earliest, isReady ? nil : connectDeadline].compactMap({ $0 }).min() { armDeadline(next) }
    }
}
