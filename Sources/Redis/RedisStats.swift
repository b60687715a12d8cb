import Synchronization

/// Counters for /metrics. Relaxed atomics, each counted once where it happens.
public final class RedisStats: Sendable {
    /// Commands admitted by the circuit breaker (sent, or failed on the way to the network).
    public let commands = Atomic<Int>(0)
    /// Commands that completed with an error of any kind, timeouts and circuit refusals included.
    public let errors = Atomic<Int>(0)
    public let timeouts = Atomic<Int>(0)
    /// Commands failed at once because the circuit was open.
    public let rejectedByCircuit = Atomic<Int>(0)
    /// Times the circuit opened (from closed, or again after a failed probe).
    public let circuitOpenings = Atomic<Int>(0)
    /// Connections that completed their handshake (first connections and reconnections).
    public let connectionsOpened = Atomic<Int>(0)
    /// Connect attempts and handshakes that failed, and connections lost.
    public let connectionFailures = Atomic<Int>(0)
    /// Pub/sub messages delivered to subscription handlers.
    public let messagesReceived = Atomic<Int>(0)
    /// Redis Cluster: commands sent on to another node because theirs answered MOVED (the slot moved).
    public let movedRedirections = Atomic<Int>(0)
    /// Redis Cluster: commands sent on with ASKING because theirs answered ASK (the slot is migrating).
    public let askRedirections = Atomic<Int>(0)
    /// Redis Cluster: slot maps learnt (the discovery at start, then the refreshes a MOVED triggers).
    public let slotMapRefreshes = Atomic<Int>(0)

    public init() {}
}
