import Cache
import EventLoop
import Redis
import Upstream

/// A first-level miss of a verified caller when the gateway is one of a fleet (`--redis`): the
/// second level first; on its miss one pod per key (the lease holder) asks the upstream and
/// shares the answer, while the others wait up to `leaseWait` for it, then ask for themselves.
extension Gateway {
    func readThroughFleet(
        _ forward: Forward, key: CacheKey, fleet: SecondLevel, pending: PendingRead,
        complete: @escaping (ReadOutcome) -> Void
    ) {
        let loop = pending.loop
        fleet.fetch(key, now: clock(), on: loop) { [self] entry in
            if let entry = adopt(entry, key: key) { return complete(.shared(entry)) }
            guard !pending.isCancelled else { return complete(.failure(.cancelled)) }
            fleet.takeLease(key, on: loop) { [self] taken in
                guard !taken else { return callUpstream(forward, key: key, fleet: fleet, pending: pending, complete) }
                awaitWinner(
                    forward, key: key, fleet: fleet, pending: pending, until: clock() + fleet.leaseWait, complete)
            }
        }
    }

    private func awaitWinner(
        _ forward: Forward, key: CacheKey, fleet: SecondLevel, pending: PendingRead, until deadline: Double,
        _ complete: @escaping (ReadOutcome) -> Void
    ) {
        _ = pending.loop.schedule(after: 25_000_000) { [self] in
            guard !pending.isCancelled else { return complete(.failure(.cancelled)) }
            fleet.fetch(key, now: clock(), on: pending.loop) { [self] entry in
                if let entry = adopt(entry, key: key) { return complete(.shared(entry)) }
                guard clock() < deadline else {
                    return callUpstream(forward, key: key, fleet: fleet, pending: pending, complete)
                }
                awaitWinner(forward, key: key, fleet: fleet, pending: pending, until: deadline, complete)
            }
        }
    }

    private func callUpstream(
        _ forward: Forward, key: CacheKey, fleet: SecondLevel, pending: PendingRead,
        _ complete: @escaping (ReadOutcome) -> Void
    ) {
        guard !pending.isCancelled else { return complete(.failure(.cancelled)) }
        pending.call = fetch(forward, verified: true, on: pending.loop) { outcome in
            fleet.releaseLease(key, on: pending.loop)
            complete(outcome)
        }
    }

    /// A fresh entry from the second level, kept in the first (an ended execution is known as such).
    private func adopt(_ entry: CachedResponse?, key: CacheKey) -> CachedResponse? {
        guard let entry, entry.isFresh(now: clock()) else { return nil }
        store.cache.put(key, entry)
        if entry.isPermanent, let execution = key.group.execution { store.statuses.markEnded(execution) }
        return entry
    }
}

/// A leader's read whose upstream call may not have started yet (the fleet is asked first):
/// cancelling stops the next step, or the call under way. Confined to `loop`.
final class PendingRead: @unchecked Sendable {
    let loop: EventLoop
    private(set) var isCancelled = false
    var call: UpstreamCall? = nil

    init(loop: EventLoop) { self.loop = loop }

    func cancel() {
        guard loop.inEventLoop else { return loop.execute { self.cancel() } }
        isCancelled = true
        call?.cancel()
    }
}
