import EventLoop

/// A client's way through a Redis Cluster on one loop (`EventLoop.local`): a pool of pipelined
/// connections per node, each command sent to its key's slot owner, redirections followed as the
/// replies say. Only this loop touches it, so nothing here is locked; what the loops share (the
/// map, the nodes' circuits) is in `ClusterTopology`.
///
/// MOVED: resend to the named node, keep the slot's new owner, refresh the map (one refresh in
/// flight, a few a second at most). ASK: resend once to the named node after ASKING, map unchanged.
/// At most `maxRedirections` per command. TRYAGAIN and CLUSTERDOWN are ordinary failures (a miss).
final class ClusterLoopRouter: LoopLocal {
    private enum Route: Equatable {
        /// The node `--redis` names: before the map is known, and as a last resort for the map.
        case seed
        case node(RedisNodeAddress)
    }

    static let maxRedirections = 5

    /// Holds the client's identity for the loop's locals (see `RedisLoopPool.key`).
    let key: AnyObject
    private let seed: RedisLoopPool
    private let seedBreaker: CircuitBreaker
    private let topology: ClusterTopology
    private var loop: EventLoop { seed.context.loop }
    private var stats: RedisStats { seed.context.stats }
    private var options: RedisClient.Options { seed.context.options }
    private var contexts: [RedisNodeAddress: RedisLoopContext] = [:]
    private var pools: [RedisNodeAddress: RedisLoopPool] = [:]
    /// This loop's copy of the topology's map, taken when its generation moves.
    private var map: SlotMap? = nil
    private var mapGeneration = 0
    private var nextKeyless = 0
    private var rediscoveryScheduled = false
    private var stopped = false

    init(key: AnyObject, seed: RedisLoopPool, seedBreaker: CircuitBreaker, topology: ClusterTopology) {
        self.key = key
        self.seed = seed
        self.seedBreaker = seedBreaker
        self.topology = topology
    }

    /// A command of a client in cluster mode; `completion` runs once, on this loop.
    func send(_ command: RedisCommand, deadline: UInt64, completion: @escaping ReplyHandler) {
        takeNewMap()
        if map != nil, let parts = CommandKeys.splitBySlot(command) {
            return sendSplit(parts, deadline: deadline, completion: completion)
        }
        switch route(for: command) {
        case .failure(let error): completion(.failure(error))
        case .success(let route): dispatch(command, to: route, redirections: 0, deadline: deadline, completion)
        }
    }

    /// A redirection the seed sent before the client knew it was talking to a cluster.
    func follow(
        _ redirection: Redirection, reply: String, of command: RedisCommand, deadline: UInt64,
        completion: @escaping ReplyHandler
    ) {
        refreshSlotMap()
        follow(redirection, reply: reply, of: command, redirections: 1, deadline: deadline, completion)
    }

    /// Starts finding out what the seed is (`CLUSTER SHARDS`), unless that is under way.
    func discover() { refreshSlotMap() }

    // MARK: routing

    private func takeNewMap() {
        let current = topology.generation.load(ordering: .acquiring)
        guard current != mapGeneration else { return }
        mapGeneration = current
        map = topology.map
        // Connections to every master open now, not on the first command that needs them.
        for master in map?.masters ?? [] { _ = pool(for: .node(master)) }
    }

    private func route(for command: RedisCommand) -> Result<Route, RedisError> {
        guard let map, !map.masters.isEmpty else { return .success(.seed) }
        guard let slot = CommandKeys.slot(of: command) else { return .success(.node(anyReachableMaster(of: map))) }
        guard let owner = map.owner(ofSlot: slot) else { return .failure(.slotUnowned(slot)) }
        return .success(.node(owner))
    }

    /// PUBLISH and PING: a master with a connection up, taken in turn.
    private func anyReachableMaster(of map: SlotMap) -> RedisNodeAddress {
        let masters = map.masters
        for offset in 0..<masters.count {
            let candidate = masters[(nextKeyless + offset) % masters.count]
            if pool(for: .node(candidate)).hasReadyConnection {
                nextKeyless = (nextKeyless + offset + 1) % masters.count
                return candidate
            }
        }
        return masters[nextKeyless % masters.count]
    }

    private func dispatch(
        _ command: RedisCommand, to route: Route, asking: Bool = false, redirections: Int, deadline: UInt64,
        _ completion: @escaping ReplyHandler
    ) {
        let breaker = breaker(for: route)
        let admission = breaker.admit(now: MonotonicClock.now())
        guard admission != .rejected else {
            stats.rejectedByCircuit.wrappingAdd(1, ordering: .relaxed)
            return completion(.failure(.circuitOpen))
        }
        pool(for: route).send(command, asking: asking, deadline: deadline) { [self] result in
            if case .failure(.server(let message)) = result,
                let redirection = Redirection(errorReply: message, askedHost: host(of: route))
            {
                // The node answered: it is healthy, the key is merely elsewhere.
                breaker.record(success: true, admission: admission, now: MonotonicClock.now())
                return follow(
                    redirection, reply: message, of: command, redirections: redirections + 1, deadline: deadline,
                    completion)
            }
            var healthy = true
            if case .failure(let error) = result {
                healthy = !error.countsAgainstHealth
                // A master that is gone may have been replaced (a failover sends no MOVED).
                if case .node = route, case .notConnected = error { refreshSlotMap() }
            }
            breaker.record(success: healthy, admission: admission, now: MonotonicClock.now())
            completion(result)
        }
    }

    private func follow(
        _ redirection: Redirection, reply: String, of command: RedisCommand, redirections: Int, deadline: UInt64,
        _ completion: @escaping ReplyHandler
    ) {
        guard redirections <= Self.maxRedirections else { return completion(.failure(.tooManyRedirections(reply))) }
        // Sent past its deadline, the command would time out and close a healthy connection.
        guard MonotonicClock.now() < deadline else { return completion(.failure(.timeout)) }
        switch redirection {
        case .moved(let slot, let node):
            stats.movedRedirections.wrappingAdd(1, ordering: .relaxed)
            learnMoved(slot: slot, to: node)
            dispatch(command, to: .node(node), redirections: redirections, deadline: deadline, completion)
        case .ask(_, let node):
            stats.askRedirections.wrappingAdd(1, ordering: .relaxed)
            dispatch(command, to: .node(node), asking: true, redirections: redirections, deadline: deadline, completion)
        }
    }

    private func learnMoved(slot: Int, to node: RedisNodeAddress) {
        topology.assign(slot: slot, to: node)
        refreshSlotMap()
    }

    /// A multi-key DEL (EXISTS…) over several slots: one command per slot, the counts summed; the
    /// first failure is the answer (some keys may then be deleted, as with any failed DEL).
    private func sendSplit(_ parts: [RedisCommand], deadline: UInt64, completion: @escaping ReplyHandler) {
        var remaining = parts.count
        var total: Int64 = 0
        var failure: RedisError? = nil
        for part in parts {
            send(part, deadline: deadline) { result in
                switch result {
                case .success(.integer(let count)): total &+= count
                case .success: failure = failure ?? .unexpectedReply("not an integer in answer to \(part.name)")
                case .failure(let error): failure = failure ?? error
                }
                remaining -= 1
                guard remaining == 0 else { return }
                completion(failure.map { .failure($0) } ?? .success(.integer(total)))
            }
        }
    }

    // MARK: the slot map

    /// Asks the known nodes in turn (the seed last, or first while discovering) for the map.
    private func refreshSlotMap() {
        guard !stopped, topology.beginRefresh(now: MonotonicClock.now()) else { return }
        var candidates = topology.knownNodes.map(Route.node)
        if topology.mode == .unknown { candidates.insert(.seed, at: 0) } else { candidates.append(.seed) }
        askForSlots(candidates[...], shards: true)
    }

    private func askForSlots(_ candidates: ArraySlice<Route>, shards: Bool) {
        guard let route = candidates.first, !stopped else {
            topology.endRefresh()
            return scheduleRediscovery()
        }
        let budget = UInt64(options.connectTimeoutMilliseconds + max(options.commandTimeoutMilliseconds, 100))
        let deadline = MonotonicClock.now() &+ budget * 1_000_000
        pool(for: route).send(shards ? .clusterShards : .clusterSlots, deadline: deadline) { [self] result in
            switch result {
            case .success(let reply):
                let host = host(of: route)
                let learnt =
                    shards
                    ? SlotMap(clusterShards: reply, askedHost: host, tls: seed.context.url.usesTLS)
                    : SlotMap(clusterSlots: reply, askedHost: host)
                if let learnt, !learnt.masters.isEmpty {
                    topology.install(learnt)
                    stats.slotMapRefreshes.wrappingAdd(1, ordering: .relaxed)
                    topology.endRefresh()
                } else if shards {
                    askForSlots(candidates, shards: false)
                } else {
                    askForSlots(candidates.dropFirst(), shards: true)
                }
            case .failure(.server(let message))
            where message.contains("cluster support disabled") || message.hasPrefix("ERR unknown command"):
                // A single node (or something without CLUSTER at all): the client of old from now on.
                topology.becomeSingleNode()
                topology.endRefresh()
            case .failure(.server) where shards:
                askForSlots(candidates, shards: false)  // before Redis 7: no SHARDS
            case .failure:
                askForSlots(candidates.dropFirst(), shards: true)
            }
        }
    }

    /// Nobody answered while the mode is still unknown: ask again later (once a reconnect period).
    private func scheduleRediscovery() {
        guard topology.mode == .unknown, !rediscoveryScheduled, !stopped else { return }
        rediscoveryScheduled = true
        _ = loop.schedule(after: UInt64(max(100, options.reconnectMaxMilliseconds)) * 1_000_000) { [weak self] in
            guard let self else { return }
            rediscoveryScheduled = false
            if topology.mode == .unknown { refreshSlotMap() }
        }
    }

    // MARK: nodes

    private func breaker(for route: Route) -> CircuitBreaker {
        switch route {
        case .seed: seedBreaker
        case .node(let node): topology.breaker(for: node)
        }
    }

    private func host(of route: Route) -> String {
        switch route {
        case .node(let node): return node.host
        case .seed:
            if case .tcp(let host, _) = seed.context.url.endpoint { return host }
            return "127.0.0.1"
        }
    }

    private func pool(for route: Route) -> RedisLoopPool {
        guard case .node(let node) = route else { return seed }
        if let pool = pools[node] { return pool }
        let pool = RedisLoopPool(key: key, context: context(for: node))
        if stopped { pool.loopDidStop() }
        pools[node] = pool
        return pool
    }

    private func context(for node: RedisNodeAddress) -> RedisLoopContext {
        if let context = contexts[node] { return context }
        var url = seed.context.url
        url.endpoint = node.endpoint
        let context = RedisLoopContext(
            loop: loop, url: url, options: options, resolver: topology.resolver(for: node), stats: stats)
        contexts[node] = context
        return context
    }

    /// Where a subscriber goes after it lost `current`: the next of the seed and every known node
    /// (a classic PUBLISH reaches the subscribers of every node, so any one will do).
    func subscriberContext(after current: RedisLoopContext) -> RedisLoopContext {
        guard topology.mode == .cluster else { return seed.context }
        let seedEndpoint = seed.context.url.endpoint
        let candidates = [seed.context] + topology.knownNodes.filter { $0.endpoint != seedEndpoint }.map(context(for:))
        let index = candidates.firstIndex { $0 === current } ?? 0
        return candidates[(index + 1) % candidates.count]
    }

    // MARK: LoopLocal

    func loopDidStop() {
        stopped = true
        for pool in pools.values { pool.loopDidStop() }
    }
}
