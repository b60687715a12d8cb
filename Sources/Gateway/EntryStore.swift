import Cache
import Compression
import Fleet
import Foundation
import HTTP
import Locking
import Studio

/// The bodies a miss has at hand, so it is answered without inflating what was just compressed.
struct FreshBodies: Sendable {
    /// The Execution view.
    var execution: [UInt8]
    /// The Engagement view, when the leader's route asked for it.
    var engagement: [UInt8]?
}

/// The first cache level's one owner: answers become entries here, for reads and writes alike
/// (the lifetime by policy, the entry, stored under its key), and every other change to the cache
/// is one of its named operations: adopting another pod's entry, restoring a snapshot, keeping the
/// forms an entry gains later (its gzip body, its Engagement view), what writes invalidate, what
/// an operator purges, what a lost fleet subscription makes doubtful.
final class EntryStore: FirstLevel, Sendable {
    private let cache: ResponseCache
    let statuses: ExecutionStatusBook
    let forms: EntryForms
    private let policyState: Locked<CachePolicy>
    /// One string per account, shared by every entry and key that names it (accounts are few,
    /// entries many: 80 bytes an entry otherwise). Bounded: past it, names are simply not shared.
    private let accountNames = Locked<Set<String>>([])

    /// Monotonic seconds, as every entry's times.
    private let clock: @Sendable () -> Double
    /// Wall-clock seconds since 1970: executions' `date_created` is wall time.
    private let wallClock: @Sendable () -> Double

    init(
        cache: ResponseCache, policy: CachePolicy, forms: EntryForms, clock: @escaping @Sendable () -> Double,
        wallClock: @escaping @Sendable () -> Double
    ) {
        self.cache = cache
        self.forms = forms
        self.clock = clock
        self.wallClock = wallClock
        statuses = ExecutionStatusBook()
        policyState = Locked(policy)
    }

    /// Replaced on SIGHUP (the TTLs are reloadable).
    var policy: CachePolicy {
        get { policyState.withLock { $0 } }
        set { policyState.withLock { $0 = newValue } }
    }

    func isEnded(_ execution: SID?) -> Bool { execution.map(statuses.isEnded) ?? false }

    /// Makes `answer` (a 2xx attributed to `account`) an entry and stores it unless policy says
    /// not to; with `engagementView` the entry carries that view too, made here once.
    func store(
        _ answer: UpstreamAnswer, account: String, route: StudioRoute, query: String, endedBeforeRequest: Bool,
        engagementView wantsEngagement: Bool = false, now: Double
    ) -> (entry: CachedResponse, bodies: FreshBodies) {
        let bodyStatus = route.resource == .execution ? answer.facts?.status : nil
        let policy = self.policy
        var lifetime = policy.lifetime(
            route: route, status: answer.status, endedBeforeRequest: endedBeforeRequest, bodyStatus: bodyStatus,
            now: now)
        // Every entry under an execution (its fetch and its children alike) follows its bound.
        let retainUntil = policy.retainUntil(
            created: route.execution.flatMap(statuses.created), now: now, wallNow: wallClock())
        if retainUntil <= now { lifetime = .notCached }  // Twilio has deleted it: passed through only
        var bodies = FreshBodies(execution: answer.body)
        let account = shared(account)
        var entry = Self.entry(
            from: answer, account: account, now: now, lifetime: lifetime, retainUntil: max(now, retainUntil))
        if wantsEngagement {
            let engagement = forms.engagementBody(from: answer.body)
            entry = entry.withEngagementView(Zlib.compress(engagement, format: .gzip, level: 6))
            bodies.engagement = engagement
        }
        if let key = CacheKey(account: account, route: route, query: query) {
            if lifetime != .notCached {
                cache.put(key, entry)
            } else if retainUntil <= now {
                cache.remove(key)  // an older copy is past retention too
            }
        }
        return (entry, bodies)
    }

    /// The entry held under `key`, fresh or not (a hit's one lookup).
    @inline(__always)
    func entry(for key: CacheKey) -> CachedResponse? { cache.get(key) }

    /// An entry known to be good from elsewhere (another pod, a snapshot): an ended execution's
    /// entry marks the execution ended, as its fetch here would have.
    func adopt(_ key: CacheKey, _ entry: CachedResponse) {
        guard retains(entry) else { return }
        cache.put(key, entry)
        if entry.isPermanent, let execution = key.group.execution { statuses.markEnded(execution) }
    }

    /// A snapshot's entries (every one permanent: only ended executions' entries are written).
    func restore(_ entries: [(CacheKey, CachedResponse)]) {
        for (key, entry) in entries { adopt(key, entry) }
    }

    /// What a snapshot writes: the entries that cannot change, while their data may still live.
    func permanentEntries() -> [(CacheKey, CachedResponse)] {
        let now = clock()
        return entries { _, entry in entry.isPermanent && !entry.isPastRetention(now: now) }
    }

    /// Whether an entry from elsewhere may be kept here: within its retention bound, and within
    /// this pod's (an entry made before a restart or by a pod with a longer setting gets no longer).
    private func retains(_ entry: CachedResponse) -> Bool {
        let now = clock()
        let policy = self.policy
        return !entry.isPastRetention(now: now) && (policy.retention == 0 || entry.storedAt + policy.retention > now)
    }

    /// An entry met past its retention bound (a hit that came too late) goes at once.
    func dropPastRetention(_ key: CacheKey, _ entry: CachedResponse) {
        cache.remove(key, ifHolding: entry)
    }

    func entries(in scope: PurgeScope) -> [(CacheKey, CachedResponse)] { entries { key, _ in scope.matches(key) } }

    /// A copy of what is held (the admin listing, snapshots, tests); reading changes nothing.
    func entries(where predicate: (CacheKey, CachedResponse) -> Bool) -> [(CacheKey, CachedResponse)] {
        cache.entries(where: predicate)
    }

    /// An operator's purge; returns how many entries went. An execution belongs to one account:
    /// its status is forgotten unless the purge was narrowed to another account and found nothing.
    func purge(_ scope: PurgeScope) -> Int {
        if let contact = scope.contact {
            return purge(executions: statuses.executions(of: contact))
        }
        let purged = cache.removeAll { key, _ in scope.matches(key) }
        if let execution = scope.execution, scope.account == nil || purged > 0 { statuses.forget(execution) }
        return purged
    }

    /// Drops every entry past its retention bound (a periodic sweep: an entry nobody asks for
    /// again is not kept past it either); returns how many went.
    @discardableResult
    func sweepPastRetention() -> Int {
        let now = clock()
        return cache.removeAll { _, entry in entry.isPastRetention(now: now) }
    }

    /// An erasure: everything under these executions goes, and what the book knew of them.
    func purge(executions: [SID]) -> Int {
        var purged = 0
        for execution in executions {
            purged += cache.removeGroup(CacheGroup(execution))
            statuses.forget(execution)
        }
        return purged
    }

    func dropShortLived() { _ = cache.removeAll { _, entry in !entry.isPermanent } }

    var stats: ResponseCache.Stats { cache.stats }
    var budget: Int { cache.budget }

    /// A form the renderer made for `entry` (gzip, Engagement view), kept if the key still holds it.
    func keep(_ updated: CachedResponse, replacing entry: CachedResponse, route: StudioRoute, query: String) {
        if let key = CacheKey(account: entry.account, route: route, query: query) {
            cache.replace(key, entry, with: updated)
        }
    }

    private func shared(_ account: String) -> String {
        accountNames.withLock { names in
            if let known = names.firstIndex(of: account) { return names[known] }
            if names.count < 100_000 { names.insert(account) }
            return account
        }
    }

    private static func entry(
        from answer: UpstreamAnswer, account: String, now: Double, lifetime: CachePolicy.Lifetime,
        retainUntil: Double
    ) -> CachedResponse {
        let expiresAt: Double?
        switch lifetime {
        case .permanent: expiresAt = nil
        case .until(let time): expiresAt = time
        case .notCached: expiresAt = now
        }
        let body = answer.body
        // Kept for good (ended data): compressed hard, once. Kept for seconds (active data, list
        // pages): kept as is, and compressed (fast) only if a gzip client hits it; most are
        // replaced before that, and a miss should not pay for a compression nobody may use.
        let permanent = expiresAt == nil
        return CachedResponse(
            status: answer.status, contentType: answer.headers["Content-Type"].map(interned),
            requestID: answer.headers["Twilio-Request-Id"],
            gzipBody: permanent ? Zlib.compress(body, format: .gzip, level: 6) : nil,
            identityBody: permanent ? nil : body, identityLength: body.count, account: account, storedAt: now,
            expiresAt: expiresAt, retainUntil: retainUntil)
    }

    /// Studio's usual content type as a literal, so a hundred thousand entries share one string.
    private static func interned(_ contentType: String) -> String {
        switch contentType {
        case "application/json": "application/json"
        case "application/json; charset=utf-8": "application/json; charset=utf-8"
        default: contentType
        }
    }

    /// After a successful write (docs/ARCHITECTURE.md, «Cache policy»): create → the flow's list
    /// pages go; delete → everything under the execution; update → its short-lived children go
    /// and the answer is stored as the execution (permanent once ended). Returns what was
    /// dropped and the entry stored, so a fleet can do the same.
    func invalidate(after method: HTTPMethod, route: StudioRoute, answer: UpstreamAnswer, account: String?, now: Double)
        -> (dropped: [CacheInvalidation], stored: (key: CacheKey, entry: CachedResponse)?)
    {
        guard let flow = route.flow, route.resource != .flowAdmin else { return ([], nil) }
        var dropped = [CacheInvalidation(group: .lists(flow: flow), shortLivedOnly: false)]
        if let execution = route.execution, route.resource == .execution, method == .delete || method == .post {
            dropped.append(CacheInvalidation(group: CacheGroup(execution), shortLivedOnly: method == .post))
        }
        for invalidation in dropped { drop(invalidation) }
        guard method == .post, route.resource == .execution, let account,
            let key = CacheKey(account: account, route: route, query: "")
        else { return (dropped, nil) }
        let stored = store(answer, account: account, route: route, query: "", endedBeforeRequest: false, now: now)
        return (dropped, (key, stored.entry))
    }

    /// Drops a group here (also when another pod reports a write).
    func drop(_ invalidation: CacheInvalidation) {
        if invalidation.shortLivedOnly {
            cache.removeGroup(invalidation.group) { _, entry in !entry.isPermanent }
        } else {
            cache.removeGroup(invalidation.group)
            if let execution = invalidation.group.execution { statuses.forget(execution) }
        }
    }
}
