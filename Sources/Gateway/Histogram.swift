import Locking

/// A Prometheus histogram with fixed buckets (seconds).
final class Histogram: Sendable {
    static let latencyBuckets: [Double] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    private struct State {
        var counts: [Int]
        var sum = 0.0
        var count = 0
    }

    let buckets: [Double]
    private let state: Locked<State>

    init(buckets: [Double] = Histogram.latencyBuckets) {
        self.buckets = buckets
        state = Locked(State(counts: Array(repeating: 0, count: buckets.count)))
    }

    func observe(_ value: Double) {
        let index = buckets.firstIndex { value <= $0 }
        state.withLock { state in
            if let index { state.counts[index] += 1 }
            state.sum += value
            state.count += 1
        }
    }

    /// Lines for `name` in text format 0.0.4 (cumulative buckets).
    func render(_ name: String) -> [String] {
        let snapshot = state.withLock { $0 }
        var lines: [String] = []
        var cumulative = 0
        for (bound, count) in zip(buckets, snapshot.counts) {
            cumulative += count
            lines.append("\(name)_bucket{le=\"\(bound)\"} \(cumulative)")
        }
        lines.append("\(name)_bucket{le=\"+Inf\"} \(snapshot.count)")
        lines.append("\(name)_sum \(snapshot.sum)")
        lines.append("\(name)_count \(snapshot.count)")
        return lines
    }
}
