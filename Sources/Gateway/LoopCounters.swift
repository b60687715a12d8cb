import EventLoop
import Synchronization

/// The counters every answer adds to, one set per event loop, summed only when `/metrics` or
/// `/admin/stats` is read. A hit then writes no cache line another core writes: one shared set of
/// atomics and locks bounced its lines between the cores on every request at `--threads 2`. Adds
/// stay atomic, but uncontended: nearly all come from the set's own loop, and the rest from the
/// loop that answered a coalesced waiter for it.
final class LoopCounters: LoopLocal, Sendable {
    enum Counter: Int, CaseIterable {
        /// Cache lookups by result; a miss answered STALE counts as a miss and a stale.
        case hits, misses, stale, bypass
        /// Misses that waited for an identical upstream call already in flight.
        case coalescedWaits
        /// Requests between `serve` and `finish`; one set may add what another takes away, so
        /// only the sum over every set means anything.
        case inFlight
    }

    // Slots: the counters, then the request-latency histogram (its buckets, its count, its sum in
    // nanoseconds), then `RequestCounts`' labels.
    private static let latencyBuckets = Counter.allCases.count
    private static let latencyCount = latencyBuckets + Histogram.latencyBuckets.count
    private static let latencySum = latencyCount + 1
    private static let requests = latencySum + 1
    private let slots: InlineArray<4096, Atomic<Int>>

    init() {
        slots = InlineArray { _ in Atomic(0) }
        precondition(Self.requests + RequestCounts.slots <= slots.count, "LoopCounters: too few slots")
    }

    func add(_ counter: Counter, _ amount: Int = 1) { add(slot: counter.rawValue, amount) }

    subscript(counter: Counter) -> Int { load(slot: counter.rawValue) }

    func observeLatency(_ seconds: Double) {
        if let bucket = Histogram.bucket(for: seconds, in: Histogram.latencyBuckets) {
            add(slot: Self.latencyBuckets + bucket)
        }
        add(slot: Self.latencyCount)
        add(slot: Self.latencySum, Int((seconds * 1e9).rounded()))
    }

    var latency: HistogramCounts {
        HistogramCounts(
            counts: (0..<Histogram.latencyBuckets.count).map { load(slot: Self.latencyBuckets + $0) },
            sum: Double(load(slot: Self.latencySum)) / 1e9, count: load(slot: Self.latencyCount))
    }

    /// Counts an answer under `label`; false when the label has no slot (a rare status), for the
    /// caller to keep elsewhere.
    func count(_ label: RequestCounts.Label) -> Bool {
        guard let slot = RequestCounts.slot(label) else { return false }
        add(slot: Self.requests + slot)
        return true
    }

    /// How many answers `RequestCounts.label(at: slot)` counted here.
    func requests(at slot: Int) -> Int { load(slot: Self.requests + slot) }

    func loopDidStop() {}

    private func add(slot: Int, _ amount: Int = 1) { slots[slot].wrappingAdd(amount, ordering: .relaxed) }
    private func load(slot: Int) -> Int { slots[slot].load(ordering: .relaxed) }
}
