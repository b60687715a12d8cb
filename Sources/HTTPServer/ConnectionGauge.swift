import Synchronization

/// Open client connections, shared with whoever publishes metrics.
public final class ConnectionGauge: Sendable {
    private let count = Atomic<Int>(0)
    private let total = Atomic<Int>(0)
    public init() {}
    public var value: Int { count.load(ordering: .relaxed) }
    /// Connections accepted since start.
    public var accepted: Int { total.load(ordering: .relaxed) }
    func opened() {
        count.wrappingAdd(1, ordering: .relaxed)
        total.wrappingAdd(1, ordering: .relaxed)
    }
    func closed() { count.wrappingSubtract(1, ordering: .relaxed) }
}
