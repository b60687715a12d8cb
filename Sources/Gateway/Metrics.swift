import Locking
import Synchronization

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
    func render(_ name: String, labels: String = "") -> [String] {
        let snapshot = state.withLock { $0 }
        var lines: [String] = []
        var cumulative = 0
        let prefix = labels.isEmpty ? "" : labels + ","
        for (bound, count) in zip(buckets, snapshot.counts) {
            cumulative += count
            lines.append("\(name)_bucket{\(prefix)le=\"\(bound)\"} \(cumulative)")
        }
        lines.append("\(name)_bucket{\(prefix)le=\"+Inf\"} \(snapshot.count)")
        let suffix = labels.isEmpty ? "" : "{\(labels)}"
        lines.append("\(name)_sum\(suffix) \(snapshot.sum)")
        lines.append("\(name)_count\(suffix) \(snapshot.count)")
        return lines
    }
}

/// Request-level metrics: counts by route, status and cache result; latencies.
final class RequestMetrics: Sendable {
    private struct Label: Hashable {
        var route: RouteLabel
        var status: Int
        var cache: String
    }

    private let requests = Locked<[Label: Int]>([:])
    let requestLatency = Histogram()
    let upstreamLatency = Histogram()
    let inFlight = Atomic<Int>(0)
    /// Monotonic second of the last HTTP answer from the upstream (any status), for /readyz.
    let lastUpstreamAnswer = Atomic<Int>(Int.min / 2)

    /// `seconds` nil: counted, but kept out of the latency histogram (requests never read whole).
    func record(route: RouteLabel, status: Int, cache: String, seconds: Double?) {
        requests.withLock { $0[Label(route: route, status: status, cache: cache), default: 0] += 1 }
        if let seconds { requestLatency.observe(seconds) }
    }

    func renderRequests() -> [String] {
        requests.withLock { $0 }.map {
            (route: $0.key.route.name, status: $0.key.status, cache: $0.key.cache, count: $0.value)
        }
        .sorted { ($0.route, $0.status, $0.cache) < ($1.route, $1.status, $1.cache) }
        .map {
            "studiogate_requests_total{route=\"\($0.route)\",status=\"\($0.status)\",cache=\"\($0.cache)\"} \($0.count)"
        }
    }
}
