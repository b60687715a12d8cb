import EventLoop

/// What a subscription handler hears, on the subscriber's loop.
public enum RedisSubscriptionEvent: Sendable, Equatable {
    /// Every channel is subscribed. `resumed` after a reconnection: whatever was published while the
    /// connection was down was missed.
    case subscribed(resumed: Bool)
    case message(channel: String, payload: [UInt8])
    /// A live subscription was lost; it is being set up again (with backoff).
    case disconnected(RedisError)
}

/// The connection of one subscription: SUBSCRIBE puts a Redis connection in a mode where it takes
/// nothing but (un)subscriptions and PING, so it is never shared with commands. It logs in,
/// subscribes again after every reconnection, and PINGs every `subscriberPingIntervalMilliseconds`:
/// a Redis that vanished without a reset (a partition, a paused VM) is noticed when the pong does
/// not come back before the next ping.
///
/// `@unchecked Sendable`: `RedisSubscription.cancel` hops to the loop with a reference; everything
/// here runs on `context.loop`.
final class RedisSubscriber: RedisSocketDelegate, @unchecked Sendable {
    /// Where it connects; in a cluster it moves to another node after a failure (`nextNode`).
    private var context: RedisLoopContext
    let channels: [String]
    private let handler: (RedisSubscriptionEvent) -> Void
    private var socket: RedisSocket? = nil
    private var backoff: ReconnectBackoff
    private var reconnectTimer: LoopTimers.ID? = nil
    /// The connect deadline until subscribed, then the ping tick.
    private var timer: LoopTimers.ID? = nil
    private var loginReplies = 0
    private var confirmed: Set<String> = []
    private var isLive = false
    private var hasBeenLive = false
    private var awaitingPong = false
    private var stopped = false
    var onStop: (() -> Void)? = nil
    /// Redis Cluster: the node to try after `context` failed (same loop, options and counters).
    var nextNode: ((RedisLoopContext) -> RedisLoopContext)? = nil

    init(context: RedisLoopContext, channels: [String], handler: @escaping (RedisSubscriptionEvent) -> Void) {
        self.context = context
        var unique: [String] = []
        for channel in channels where !unique.contains(channel) { unique.append(channel) }
        self.channels = unique
        self.handler = handler
        backoff = context.backoff()
    }

    func start() { connect() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        if let reconnectTimer { context.loop.cancel(reconnectTimer) }
        reconnectTimer = nil
        cancelTimer()
        socket?.close(.stopped)
        onStop?()
        onStop = nil
    }

    private func connect() {
        guard !stopped, socket == nil, !channels.isEmpty else { return }
        if backoff.failures > 0, let nextNode { context = nextNode(context) }
        switch context.openSocket(delegate: self, attempt: backoff.failures) {
        case .failure(let error):
            context.stats.connectionFailures.wrappingAdd(1, ordering: .relaxed)
            context.options.onConnectionFailure?(error)
            scheduleReconnect()
        case .success(let socket):
            self.socket = socket
            let login = context.handshake(selectDatabase: false)
            loginReplies = login.count
            for command in login + [.subscribe(channels)] {
                guard socket.write(command) else {
                    return socket.close(.notConnected("the subscription does not fit the output buffer"))
                }
            }
            schedule(after: context.options.connectTimeoutMilliseconds) { [weak self] in
                self?.socket?.close(.notConnected("not subscribed within the connect timeout"))
            }
        }
    }

    // MARK: RedisSocketDelegate

    func socketConnected(_ socket: RedisSocket) {}

    /// The login and SUBSCRIBE queued at `connect` go out now; the connect timer still runs.
    func socketSecured(_ socket: RedisSocket) {}

    func socket(_ socket: RedisSocket, received value: RESPValue) {
        if loginReplies > 0 {
            loginReplies -= 1
            if case .error(let message) = value { socket.close(.notConnected("AUTH failed: \(message)")) }
            return
        }
        guard case .array(let items?) = value, let kind = items.first.flatMap(Self.text) else {
            if case .error(let message) = value { return socket.close(.server(message)) }
            return socket.close(.unexpectedReply("not a pub/sub message"))
        }
        switch kind.lowercased() {
        case "message" where items.count == 3:
            guard let channel = Self.text(items[1]), case .bulkString(let payload?) = items[2] else {
                return socket.close(.unexpectedReply("a malformed pub/sub message"))
            }
            context.stats.messagesReceived.wrappingAdd(1, ordering: .relaxed)
            handler(.message(channel: channel, payload: payload))
        case "subscribe" where items.count == 3:
            guard let channel = Self.text(items[1]) else {
                return socket.close(.unexpectedReply("a malformed confirmation"))
            }
            confirmed.insert(channel)
            if !isLive, confirmed.isSuperset(of: channels) { becomeLive() }
        case "pong":
            awaitingPong = false
        default:
            socket.close(.unexpectedReply("pub/sub reply '\(kind.prefix(32))'"))
        }
    }

    func socket(_ socket: RedisSocket, closedWith error: RedisError) {
        let wasLive = isLive
        if !wasLive, error != .stopped { context.resolver.connectFailed() }
        self.socket = nil
        isLive = false
        awaitingPong = false
        loginReplies = 0
        confirmed = []
        cancelTimer()
        guard error != .stopped, !stopped else { return }
        context.stats.connectionFailures.wrappingAdd(1, ordering: .relaxed)
        context.options.onConnectionFailure?(error)
        if wasLive { handler(.disconnected(error)) }
        scheduleReconnect()
    }

    // MARK: lifecycle

    private func becomeLive() {
        isLive = true
        backoff.reset()
        context.stats.connectionsOpened.wrappingAdd(1, ordering: .relaxed)
        cancelTimer()
        schedulePing()
        handler(.subscribed(resumed: hasBeenLive))
        hasBeenLive = true
    }

    private func schedulePing() {
        schedule(after: context.options.subscriberPingIntervalMilliseconds) { [weak self] in
            guard let self, let socket else { return }
            if awaitingPong {
                socket.close(.timeout)
                return
            }
            // A full output means Redis stopped reading: as dead as a missing pong.
            guard socket.write(.ping) else { return socket.close(.backpressure) }
            awaitingPong = true
            schedulePing()
        }
    }

    private func scheduleReconnect() {
        guard !stopped, reconnectTimer == nil else { return }
        reconnectTimer = context.loop.schedule(after: backoff.nextDelay()) { [weak self] in
            guard let self else { return }
            reconnectTimer = nil
            connect()
        }
    }

    private func schedule(after milliseconds: Int, _ task: @escaping () -> Void) {
        cancelTimer()
        timer = context.loop.schedule(after: UInt64(max(1, milliseconds)) * 1_000_000) { [weak self] in
            self?.timer = nil
            task()
        }
    }

    private func cancelTimer() {
        if let timer { context.loop.cancel(timer) }
        timer = nil
    }

    private static func text(_ value: RESPValue) -> String? {
        guard case .bulkString(let bytes?) = value else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
