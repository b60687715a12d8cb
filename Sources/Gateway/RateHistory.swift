import EventLoop
import Locking

/// The last minutes of traffic for the status page's chart: every 10 s, the running totals of
/// answers and cache lookups, read from the counters `/metrics` sums (a loop ticker reads them;
/// nothing is added on the request path). A ring of `capacity` samples; the chart plots the
/// differences between neighbours.
final class RateHistory: Sendable {
    struct Sample: Sendable, Equatable {
        /// Monotonic seconds.
        var at: Double
        var requests: Int
        /// First- and second-level hits.
        var hits: Int
        /// Cacheable reads looked up: hits, misses and stale answers.
        var lookups: Int
    }

    /// One bar of the chart: what happened between two samples.
    struct Interval: Sendable, Equatable {
        var seconds: Double
        var requests: Int
        var hits: Int
        var lookups: Int
        var rate: Double { seconds > 0 ? Double(requests) / seconds : 0 }
        var hitRatio: Double? { lookups > 0 ? Double(hits) / Double(lookups) : nil }
    }

    static let period = 10.0
    let capacity: Int
    let startedAt: Double
    private let samples: Locked<[Sample]>

    init(startedAt: Double, capacity: Int = 61) {
        self.startedAt = startedAt
        self.capacity = capacity
        samples = Locked([Sample(at: startedAt, requests: 0, hits: 0, lookups: 0)])
    }

    /// Adds `sample` if a period has passed since the last one; the oldest goes when full.
    func add(_ sample: Sample) {
        samples.withLock { samples in
            guard let last = samples.last, sample.at - last.at >= Self.period else { return }
            if samples.count >= capacity { samples.removeFirst(samples.count - capacity + 1) }
            samples.append(sample)
        }
    }

    /// The intervals from the first sample kept to `now` (the last one still filling).
    func intervals(now: Sample) -> [Interval] {
        let kept = samples.withLock { $0 } + [now]
        return zip(kept, kept.dropFirst()).compactMap { earlier, later in
            guard later.at > earlier.at else { return nil }
            return Interval(
                seconds: later.at - earlier.at, requests: later.requests - earlier.requests,
                hits: later.hits - earlier.hits, lookups: later.lookups - earlier.lookups)
        }
    }

    /// Samples `telemetry` from `loop`'s ticker (every 250 ms it only compares two clock readings).
    func sample(on loop: EventLoop, telemetry: Telemetry, clock: @escaping @Sendable () -> Double) {
        loop.execute { [weak self, weak telemetry] in
            var due = clock() + Self.period
            loop.addTicker {
                let now = clock()
                guard now >= due, let self, let telemetry else { return }
                due = now + Self.period
                self.add(Self.sample(telemetry, at: now))
            }
        }
    }

    /// The running totals now.
    static func sample(_ telemetry: Telemetry, at now: Double) -> Sample {
        sample(telemetry.requestCounts, at: now)
    }

    /// The running totals in `counts` (`Telemetry.requestCounts`, read once by the status page).
    static func sample(_ counts: [RequestCounts.Label: Int], at now: Double) -> Sample {
        var sample = Sample(at: now, requests: 0, hits: 0, lookups: 0)
        for (label, count) in counts {
            sample.requests += count
            switch label.cache {
            case .hit?, .fleetHit?:
                sample.hits += count
                sample.lookups += count
            case .miss?, .stale?: sample.lookups += count
            case .bypass?, nil: break
            }
        }
        return sample
    }
}
