import Locking
import Synchronization

/// What a client knows of the Redis behind its URL, shared by every loop: whether it is a cluster
/// (unknown until the seed answers `CLUSTER SHARDS`), the slot map, every node ever learnt (so the
/// seed may die), and the gate that keeps slot-map refreshes to one at a time and a few a second.
/// Loops copy the map when `generation` moves, so a command reads one atomic, not the lock.
final class ClusterTopology: Sendable {
    enum Mode: UInt8 {
        /// Not yet discovered: commands go to the seed as to a single node, MOVED and ASK are followed.
        case unknown = 0
        /// `cluster support disabled` (or no CLUSTER command at all): the client of old, untouched.
        case singleNode = 1
        case cluster = 2
    }

    private struct State {
        var map: SlotMap? = nil
        var knownNodes: [RedisNodeAddress] = []
        var refreshing = false
        var lastRefreshStarted: UInt64 = 0
        var breakers: [RedisNodeAddress: CircuitBreaker] = [:]
        var resolvers: [RedisNodeAddress: RedisAddressResolver] = [:]
    }

    private let modeValue = Atomic<UInt8>(Mode.unknown.rawValue)
    /// Moves each time the map changes.
    let generation = Atomic<Int>(0)
    private let state = Locked(State())
    /// At most this often: a storm of MOVED during a resharding asks for one map, not thousands.
    static let minimumRefreshInterval: UInt64 = 100_000_000
    private let makeBreaker: @Sendable () -> CircuitBreaker

    init(makeBreaker: @escaping @Sendable () -> CircuitBreaker) { self.makeBreaker = makeBreaker }

    var mode: Mode { Mode(rawValue: modeValue.load(ordering: .acquiring)) ?? .unknown }

    var map: SlotMap? { state.withLock { $0.map } }

    /// Every node learnt from any map, oldest first; never forgotten.
    var knownNodes: [RedisNodeAddress] { state.withLock { $0.knownNodes } }

    func becomeSingleNode() {
        _ = modeValue.compareExchange(
            expected: Mode.unknown.rawValue, desired: Mode.singleNode.rawValue, ordering: .releasing)
    }

    func install(_ map: SlotMap) {
        state.withLock { state in
            state.map = map
            for node in map.nodes where !state.knownNodes.contains(node) { state.knownNodes.append(node) }
        }
        generation.wrappingAdd(1, ordering: .releasing)
        modeValue.store(Mode.cluster.rawValue, ordering: .releasing)
    }

    /// A MOVED's news, kept at once (the full map follows with the refresh it triggers).
    func assign(slot: Int, to node: RedisNodeAddress) {
        let changed = state.withLock { state -> Bool in
            guard var map = state.map, map.owner(ofSlot: slot) != node else { return false }
            map.assign(slot: slot, to: node)
            state.map = map
            if !state.knownNodes.contains(node) { state.knownNodes.append(node) }
            return true
        }
        if changed { generation.wrappingAdd(1, ordering: .releasing) }
    }

    /// Whether the caller should refresh now: none in flight and none started in the last interval.
    func beginRefresh(now: UInt64) -> Bool {
        state.withLock { state in
            guard !state.refreshing,
                state.lastRefreshStarted == 0 || now &- state.lastRefreshStarted >= Self.minimumRefreshInterval
            else { return false }
            state.refreshing = true
            state.lastRefreshStarted = now
            return true
        }
    }

    func endRefresh() { state.withLock { $0.refreshing = false } }

    /// Each node's circuit, shared by the loops: a dead node must not open the circuit of the others.
    func breaker(for node: RedisNodeAddress) -> CircuitBreaker {
        state.withLock { state in
            if let breaker = state.breakers[node] { return breaker }
            let breaker = makeBreaker()
            state.breakers[node] = breaker
            return breaker
        }
    }

    /// Each node's addresses, looked up (for a host name) off the loops, once for all of them.
    func resolver(for node: RedisNodeAddress) -> RedisAddressResolver {
        state.withLock { state in
            if let resolver = state.resolvers[node] { return resolver }
            let resolver = RedisAddressResolver(endpoint: node.endpoint)
            state.resolvers[node] = resolver
            return resolver
        }
    }

    /// The most severe of the nodes' circuits (for the gauge): open, then half-open, then closed.
    var worstCircuit: CircuitBreaker.State? {
        let states = state.withLock { state in state.breakers.values.map(\.state) }
        if states.contains(.open) { return .open }
        return states.contains(.halfOpen) ? .halfOpen : states.first
    }
}
