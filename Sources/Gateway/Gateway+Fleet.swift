import Auth
import Cache
import EventLoop
import Fleet
import Upstream

/// Every place the pipeline meets the fleet (`--redis`), besides asking it for a proof on a read:
/// a verified miss read through it, what a fetch stored shared with it, what a write outdated and
/// what an answer taught about a credential spread through it.
extension Gateway {
    /// A verified caller's first-level miss, when the gateway is one of a fleet: the second level
    /// first, then one pod per key asks the upstream (`FleetRead`). Nil without a fleet.
    func readThroughFleet(
        _ forward: Forward, account: String, on loop: EventLoop, complete: @escaping (ReadOutcome) -> Void
    ) -> FleetRead<ReadOutcome>? {
        guard let fleet, let key = CacheKey(account: account, route: forward.route, query: forward.query) else {
            return nil
        }
        return fleet.read(
            key, on: loop,
            askUpstream: { [self] answered in
                let call = fetch(forward, verified: true, on: loop, completion: answered)
                return { call.cancel() }
            },
            complete: { result in
                switch result {
                case .adopted(let entry): complete(.fromFleet(entry))
                case .upstream(let outcome): complete(outcome)
                case .cancelled: complete(.failure(.cancelled))
                }
            })
    }

    /// What one pod fetched, the fleet has (as long as it lives here).
    func shareWithFleet(_ outcome: ReadOutcome, forward: Forward, on loop: EventLoop) {
        guard let fleet, case .entry(let entry, _) = outcome,
            let key = CacheKey(account: entry.account, route: forward.route, query: forward.query)
        else { return }
        fleet.share(key, entry, on: loop)
    }

    /// A successful write's invalidations, on every pod and in Redis; then an update's answer.
    func spreadThroughFleet(
        _ outdated: (dropped: [CacheInvalidation], stored: (key: CacheKey, entry: CachedResponse)?), on loop: EventLoop
    ) {
        fleet?.spread(outdated.dropped, thenShare: outdated.stored, on: loop)
    }

    /// What an upstream answer teaches about the caller (`CredentialLearning`), learnt by every
    /// pod: a proof shared, or revoked everywhere.
    func learn(from answer: UpstreamAnswer, forward: Forward, on loop: EventLoop) -> String? {
        let lesson = learning.learn(from: answer, forward: forward, now: clock())
        switch lesson.proof {
        case .verified(let account)?:
            fleet?.shareProof(forward.credential, account: account, family: forward.family, on: loop)
        case .revoked(let family)?: fleet?.revokeProof(forward.credential, family: family, on: loop)
        case nil: break
        }
        if let fleet, !lesson.contacts.isEmpty {
            let retention = store.policy.retention
            let milliseconds = retention > 0 ? Int(retention * 1000) : Fleet.permanentMilliseconds
            for (execution, contact) in lesson.contacts {
                fleet.indexContact(contact, execution: execution, milliseconds: milliseconds, on: loop)
            }
        }
        return lesson.account
    }
}
