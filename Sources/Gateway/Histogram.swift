import Locking

/// One histogram's observations in fixed buckets (seconds): each bucket counts the values above
/// the bucket before it, up to its own bound; values above every bound are only in `count`.
struct HistogramCounts {
    var counts: [Int]
    var sum = 0.0
    var count = 0

    static func + (left: HistogramCounts, right: HistogramCounts) -> HistogramCounts {
        HistogramCounts(
            counts: zip(left.counts, right.counts).map { $0 + $1 }, sum: left.sum + right.sum,
            count: left.count + right.count)
    }

    /// Lines for `name` in text format 0.0.4 (cumulative buckets).
    func render(_ name: String, buckets: [Double]) -> [String] {
        var lines: [String] = []
        var cumulative = 0
        for (bound, count) in zip(buckets, counts) {
            cumulative += count
            lines.append("\(name)_bucket{le=\"\(bound)\"} \(cumulative)")
        }
        lines.append("\(name)_bucket{le=\"+Inf\"} \(count)")
        lines.append("\(name)_sum \(sum)")
        lines.append("\(name)_count \(count)")
        return lines
    }
}

/// A histogram threads share behind a short lock: upstream calls, a few per miss. (Request
/// latency, observed on every hit, is kept per loop in `LoopCounters`.)
final class Histogram: Sendable {
    static let latencyBuckets: [Double] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    /// The bucket `value` falls in; nil above every bound.
    static func bucket(for value: Double, in buckets: [Double]) -> Int? { buckets.firstIndex { value <= $0 } }

    let buckets: [Double]
    private let state: Locked<HistogramCounts>

    init(buckets: [Double] = Histogram.latencyBuckets) {
        self.buckets = buckets
        state = Locked(HistogramCounts(counts: Array(repeating: 0, count: buckets.count)))
    }

    func observe(_ value: Double) {
        let index = Self.bucket(for: value, in: buckets)
        state.withLock { state in
            if let index { state.counts[index] += 1 }
            state.sum += value
            state.count += 1
        }
    }

    func render(_ name: String) -> [String] { counts.render(name, buckets: buckets) }

    var counts: HistogramCounts { state.withLock { $0 } }
}
