import Auth
import Cache
import HTTP
import Upstream

/// What the leader of a coalesced miss hands to every waiter.
enum ReadOutcome: Sendable {
    /// A 2xx attributed to `entry.account` (stored or not, per policy), with the bodies the miss
    /// has at hand.
    case entry(CachedResponse, FreshBodies)
    /// An answer passed on as it is (errors, bodies that cannot be attributed to an account).
    case passThrough(UpstreamAnswer)
    /// A fresh entry from the fleet (another pod stored it): no upstream call was made.
    case fromFleet(CachedResponse)
    case failure(UpstreamFailure)

    /// The upstream failed in a way an expired entry may cover (`--stale-if-error`): 429, 5xx, no
    /// answer. Never a refusal (401/403/404 are the caller's answer), never a full queue.
    var upstreamFailed: Bool {
        switch self {
        case .entry, .fromFleet: false
        case .passThrough(let answer): answer.status == 429 || answer.status.isServerError
        case .failure(let failure): failure != .overloaded
        }
    }

    /// For the access log: the upstream's status, 0 when it gave no HTTP answer, nil when not asked.
    var upstreamStatus: Int? {
        switch self {
        case .entry(let entry, _): entry.status.code
        case .passThrough(let answer): answer.status.code
        case .failure: 0
        case .fromFleet: nil
        }
    }

    /// The account a cacheable answer belongs to (nil for refusals, failures, pass-throughs).
    var entryAccount: String? {
        switch self {
        case .entry(let entry, _), .fromFleet(let entry): entry.account
        case .passThrough, .failure: nil
        }
    }
}

/// What a coalesced miss (one upstream call for identical concurrent misses on this pod) hands
/// its waiters: the outcome, and whose credential met it.
struct CoalescedRead: Sendable {
    let outcome: ReadOutcome
    let leader: SHA256Digest
}
