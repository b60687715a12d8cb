import EventLoop

/// A client's connections on one loop (`EventLoop.local`), used round-robin. Only this loop touches
/// them, so nothing here is locked. Commands given while no connection is ready but one is
/// connecting wait here, each within its own deadline (nothing was sent, so no connection is
/// closed when one of them expires); when none is even connecting they fail at once.
final class RedisLoopPool: LoopLocal {
    private struct Waiting {
        let command: RedisCommand
        let asking: Bool
        let deadline: UInt64
        let completion: ReplyHandler
    }

    /// The loop keys its locals by the owner's ObjectIdentifier; holding the key object keeps that
    /// identifier from being reused by another client while this pool exists.
    let key: AnyObject
    let context: RedisLoopContext
    private var connections: [RedisConnection] = []
    private var nextConnection = 0
    private var waiting: [Waiting] = []
    /// At the earliest deadline among `waiting`.
    private lazy var waitingTimer = EarliestDeadlineTimer(scheduler: context.loop) { [weak self] now in
        self?.expireWaiting(now: now)
    }
    private var subscribers: [ObjectIdentifier: RedisSubscriber] = [:]
    /// Why the last connection went down, for the errors of commands that find none up.
    private var lastFailure: RedisError? = nil
    private var stopped = false

    init(key: AnyObject, context: RedisLoopContext) {
        self.key = key
        self.context = context
        for _ in 0..<max(1, context.options.connectionsPerLoop) {
            let connection = RedisConnection(context: context)
            connection.onChange = { [unowned self] failure in connectionChanged(failure) }
            connections.append(connection)
        }
        for connection in connections { connection.connect() }
    }

    /// `asking`: preceded by ASKING on the same connection (a cluster's ASK redirection).
    func send(_ command: RedisCommand, asking: Bool = false, deadline: UInt64, completion: @escaping ReplyHandler) {
        guard !stopped else { return completion(.failure(.stopped)) }
        for _ in connections.indices {
            let connection = connections[nextConnection]
            nextConnection = (nextConnection + 1) % connections.count
            if connection.isReady {
                return Self.send(command, asking: asking, on: connection, deadline: deadline, completion: completion)
            }
        }
        guard connections.contains(where: \.isConnecting) else { return completion(.failure(unreachable)) }
        guard waiting.count < context.options.maxPendingCommands else { return completion(.failure(.backpressure)) }
        waiting.append(Waiting(command: command, asking: asking, deadline: deadline, completion: completion))
        waitingTimer.arm(at: deadline)
    }

    var hasReadyConnection: Bool { connections.contains(where: \.isReady) }

    /// ASKING holds for the next command on its connection only, so both go out together, in order.
    private static func send(
        _ command: RedisCommand, asking: Bool, on connection: RedisConnection, deadline: UInt64,
        completion: @escaping ReplyHandler
    ) {
        if asking { connection.send(.asking, deadline: deadline) { _ in } }
        connection.send(command, deadline: deadline, completion: completion)
    }

    func subscribe(_ channels: [String], handler: @escaping (RedisSubscriptionEvent) -> Void) -> RedisSubscriber {
        let subscriber = RedisSubscriber(context: context, channels: channels, handler: handler)
        let id = ObjectIdentifier(subscriber)
        subscriber.onStop = { [unowned self] in subscribers[id] = nil }
        subscribers[id] = subscriber
        if stopped { subscriber.stop() } else { subscriber.start() }
        return subscriber
    }

    // MARK: waiting commands

    private var unreachable: RedisError {
        .notConnected("waiting to reconnect" + (lastFailure.map { " (last failure: \($0))" } ?? ""))
    }

    private func connectionChanged(_ failure: RedisError?) {
        if let failure { lastFailure = failure }
        guard !waiting.isEmpty else { return }
        if let ready = connections.first(where: \.isReady) {
            let handed = takeWaiting()
            let now = MonotonicClock.now()
            for command in handed {
                if command.deadline <= now {
                    command.completion(.failure(.timeout))
                } else {
                    Self.send(
                        command.command, asking: command.asking, on: ready, deadline: command.deadline,
                        completion: command.completion)
                }
            }
        } else if !connections.contains(where: \.isConnecting) {
            for command in takeWaiting() { command.completion(.failure(unreachable)) }
        }
    }

    private func takeWaiting() -> [Waiting] {
        waitingTimer.cancel()
        defer { waiting = [] }
        return waiting
    }

    /// Fails the commands whose deadline passed; the next deadline to wait for.
    private func expireWaiting(now: UInt64) -> UInt64? {
        let expired = waiting.filter { $0.deadline <= now }
        waiting.removeAll { $0.deadline <= now }
        for command in expired { command.completion(.failure(.timeout)) }
        return waiting.map(\.deadline).min()
    }

    // MARK: LoopLocal

    func loopDidStop() {
        stopped = true
        for connection in connections { connection.stop() }
        for subscriber in Array(subscribers.values) { subscriber.stop() }
        for command in takeWaiting() { command.completion(.failure(.stopped)) }
    }
}
