import Locking
import Synchronization

/// Counters the metrics endpoint will publish. Updated lock-free on the request path.
public final class CacheCounters: Sendable {
    public let hits = Atomic<Int>(0)
    public let misses = Atomic<Int>(0)
    public let stale = Atomic<Int>(0)
    public let bypass = Atomic<Int>(0)
    public let coalescedWaits = Atomic<Int>(0)
    private let upstreamStatuses = Locked<[Int: Int]>([:])

    public init() {}

    /// Counts one upstream call by its status (0 = no answer: connection error or timeout).
    public func countUpstream(status: Int) {
        upstreamStatuses.withLock { $0[status, default: 0] += 1 }
    }

    public var upstreamCallsByStatus: [Int: Int] { upstreamStatuses.withLock { $0 } }

    public static func increment(_ counter: borrowing Atomic<Int>) {
        counter.wrappingAdd(1, ordering: .relaxed)
    }
}
