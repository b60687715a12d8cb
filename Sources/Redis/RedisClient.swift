import EventLoop
import TLS

/// A Redis client on the project's event loops: a few pipelined connections per loop, commands
/// with deadlines in milliseconds, reconnection with backoff, and a circuit breaker so that a
/// Redis that is down or slow costs nothing but a fast failure.
///
/// Commands are started on the loop thread that wants the answer (the loop of the client
/// connection being served) and complete on that loop, exactly once. A command that cannot be
/// sent (circuit open, no connection, Redis not reading) completes before `send` returns.
public final class RedisClient: Sendable {
    public struct Options: Sendable {
        /// Pipelined connections each loop keeps to Redis.
        public var connectionsPerLoop = 2
        /// Default budget of one command, from `send` to its reply.
        public var commandTimeoutMilliseconds = 5
        /// Budget of a connect plus AUTH and SELECT.
        public var connectTimeoutMilliseconds = 500
        /// Reconnect delays: doubling from the first to the last, each drawn from its upper half.
        public var reconnectInitialMilliseconds = 20
        public var reconnectMaxMilliseconds = 1_000
        /// Consecutive failures that open the circuit, and how long it stays open before a probe.
        public var circuitFailureThreshold = 5
        public var circuitCoolDownMilliseconds = 1_000
        /// Unsent bytes one connection may hold; a command that does not fit fails (`.backpressure`).
        public var maxOutputBytes = 4 << 20
        /// Unanswered commands one connection may have (and commands one loop may hold while its
        /// connections come up).
        public var maxPendingCommands = 4_096
        /// How often a subscription checks that Redis still answers.
        public var subscriberPingIntervalMilliseconds = 1_000
        /// What a reply may declare before it is refused.
        public var limits = RESPLimits()
        /// rediss:// only: the CAs to trust (nil: the system's) and a client certificate for mutual
        /// TLS. The certificate and the host name are always verified.
        public var tls = TLSConfiguration()
        /// Told why a connection could not come up or went down (a refused connect, a failed TLS
        /// handshake, a login refused), on that connection's loop, before it reconnects. The
        /// reason never holds the password.
        public var onConnectionFailure: (@Sendable (RedisError) -> Void)? = nil

        public init() {}
    }

    public let url: RedisURL
    public let options: Options
    public let stats = RedisStats()
    let breaker: CircuitBreaker
    private let resolver: RedisAddressResolver
    /// rediss://: made once, shared by every loop's sessions.
    private let tls: Result<TLSContext, TLSError>?
    /// The key of this client's pool on each loop (see `RedisLoopPool.key`).
    private let poolKey = PoolKey()
    /// The key of its cluster router on each loop.
    private let routerKey = PoolKey()
    /// Whether the seed is a cluster, and its slot map.
    let topology: ClusterTopology

    public init(url: RedisURL, options: Options = Options()) {
        self.url = url
        var options = options
        // Room for a login and a small command, whatever was configured.
        options.maxOutputBytes = max(options.maxOutputBytes, 4_096)
        options.maxPendingCommands = max(options.maxPendingCommands, 1)
        self.options = options
        resolver = RedisAddressResolver(endpoint: url.endpoint)
        tls = url.usesTLS ? Result { () throws(TLSError) in try TLSContext(configuration: options.tls) } : nil
        let stats = stats
        let threshold = options.circuitFailureThreshold
        let coolDown = UInt64(max(0, options.circuitCoolDownMilliseconds)) * 1_000_000
        let makeBreaker: @Sendable () -> CircuitBreaker = {
            CircuitBreaker(
                threshold: threshold, coolDown: coolDown,
                onOpen: { stats.circuitOpenings.wrappingAdd(1, ordering: .relaxed) })
        }
        breaker = makeBreaker()
        topology = ClusterTopology(makeBreaker: makeBreaker)
    }

    /// In a cluster, the most severe of the nodes' circuits: open if any is open.
    public var circuitState: CircuitBreaker.State {
        guard topology.mode == .cluster else { return breaker.state }
        return topology.worstCircuit ?? .closed
    }

    /// Why rediss:// cannot connect at all (a CA file or client key OpenSSL refused); nil when
    /// TLS is ready or not used. Every connect fails with this reason meanwhile.
    public var tlsSetupError: TLSError? {
        guard case .failure(let error) = tls else { return nil }
        return error
    }

    /// Whether `--redis` turned out to be a Redis Cluster (nil: not known yet).
    public var isCluster: Bool? {
        switch topology.mode {
        case .unknown: nil
        case .singleNode: false
        case .cluster: true
        }
    }

    /// The slots and their masters, once the cluster was discovered.
    public var slotMap: SlotMap? { topology.mode == .cluster ? topology.map : nil }

    /// Opens each loop's connections now rather than on its first command, and asks the seed
    /// whether it is a cluster (`CLUSTER SHARDS`). Safe from any thread.
    public func start(on loops: [EventLoop]) {
        for loop in loops { loop.execute { [self] in _ = pool(on: loop) } }
        if let first = loops.first {
            first.execute { [self] in if topology.mode == .unknown { router(on: first).discover() } }
        }
    }

    /// Sends `command` from `loop`'s thread; `completion` runs there once, with the reply (an error
    /// reply is `.server`) or why there is none. `timeoutMilliseconds` overrides the default budget.
    public func send(
        _ command: RedisCommand, on loop: EventLoop, timeoutMilliseconds: Int? = nil,
        completion: @escaping (Result<RESPValue, RedisError>) -> Void
    ) {
        precondition(loop.inEventLoop, "Redis commands start on the loop that takes their answer")
        let now = MonotonicClock.now()
        let budget = UInt64(max(1, timeoutMilliseconds ?? options.commandTimeoutMilliseconds)) * 1_000_000
        let deadline = now &+ budget
        // The one check a single node costs: everything below it is the client of old.
        if topology.mode == .cluster {
            stats.commands.wrappingAdd(1, ordering: .relaxed)
            return router(on: loop).send(command, deadline: deadline) { [self] in finish($0, completion) }
        }
        let admission = breaker.admit(now: now)
        guard admission != .rejected else {
            stats.rejectedByCircuit.wrappingAdd(1, ordering: .relaxed)
            stats.errors.wrappingAdd(1, ordering: .relaxed)
            return completion(.failure(.circuitOpen))
        }
        stats.commands.wrappingAdd(1, ordering: .relaxed)
        pool(on: loop).send(command, deadline: deadline) { [self] result in
            // A cluster found before its discovery answered (or without one: never started).
            if case .failure(.server(let message)) = result, topology.mode == .unknown,
                let redirection = Redirection(errorReply: message, askedHost: seedHost)
            {
                breaker.record(success: true, admission: admission, now: MonotonicClock.now())
                return router(on: loop).follow(redirection, reply: message, of: command, deadline: deadline) {
                    [self] in finish($0, completion)
                }
            }
            var healthy = true
            if case .failure(let error) = result { healthy = !error.countsAgainstHealth }
            breaker.record(success: healthy, admission: admission, now: MonotonicClock.now())
            finish(result, completion)
        }
    }

    private func finish(_ result: Result<RESPValue, RedisError>, _ completion: ReplyHandler) {
        if case .failure(let error) = result {
            stats.errors.wrappingAdd(1, ordering: .relaxed)
            if error == .timeout { stats.timeouts.wrappingAdd(1, ordering: .relaxed) }
        }
        completion(result)
    }

    private var seedHost: String? {
        if case .tcp(let host, _) = url.endpoint { return host }
        return nil
    }

    /// Subscribes to `channels` on a connection of its own, kept on `loop` (call from its thread);
    /// `handler` hears every event there, until `cancel`.
    public func subscribe(
        _ channels: [String], on loop: EventLoop,
        handler: @escaping (RedisSubscriptionEvent) -> Void
    ) -> RedisSubscription {
        precondition(loop.inEventLoop, "a subscription is made on the loop that hears it")
        let subscriber = pool(on: loop).subscribe(channels, handler: handler)
        let router = router(on: loop)
        subscriber.nextNode = { [weak router] current in router?.subscriberContext(after: current) ?? current }
        return RedisSubscription(loop: loop, subscriber: subscriber)
    }

    /// The loop's way through a cluster (made when first needed: a single node never needs it).
    func router(on loop: EventLoop) -> ClusterLoopRouter {
        let seed = pool(on: loop)
        return loop.local(for: routerKey) {
            ClusterLoopRouter(key: routerKey, seed: seed, seedBreaker: breaker, topology: topology)
        }
    }

    func pool(on loop: EventLoop) -> RedisLoopPool {
        loop.local(for: poolKey) {
            RedisLoopPool(
                key: poolKey,
                context: RedisLoopContext(
                    loop: loop, url: url, options: options,
                    resolver: resolver, tls: tls, stats: stats))
        }
    }
}

/// Identity of one client's pools on the loops.
final class PoolKey: Sendable {}

/// A live subscription; `cancel` ends it (from any thread).
public final class RedisSubscription: Sendable {
    private let loop: EventLoop
    private let subscriber: RedisSubscriber
    public var channels: [String] { subscriber.channels }

    init(loop: EventLoop, subscriber: RedisSubscriber) {
        self.loop = loop
        self.subscriber = subscriber
    }

    public func cancel() {
        if loop.inEventLoop {
            subscriber.stop()
        } else {
            loop.execute { [subscriber] in subscriber.stop() }
        }
    }
}
