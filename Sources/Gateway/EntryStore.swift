import Cache
import Compression
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

/// The one way answers become entries, for reads and writes alike: the lifetime by policy, the
/// entry, stored under its key. Also what writes invalidate, and the forms an entry gains later
/// (its gzip body, its Engagement view), each made once and stored back.
final class EntryStore: Sendable {
    let cache: ResponseCache
    let statuses: ExecutionStatusBook
    /// Execution → Engagement paths and keys (v1 Engagement routes), applied to the Execution view.
    let engagementView: URLRewrite
    private let policyState: Locked<CachePolicy>
    /// One string per account, shared by every entry and key that names it (accounts are few,
    /// entries many: 80 bytes an entry otherwise). Bounded: past it, names are simply not shared.
    private let accountNames = Locked<Set<String>>([])

    init(cache: ResponseCache, policy: CachePolicy, engagementView: URLRewrite) {
        self.cache = cache
        self.engagementView = engagementView
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
        let lifetime = policy.lifetime(
            route: route, status: answer.status, endedBeforeRequest: endedBeforeRequest, bodyStatus: bodyStatus,
            now: now)
        var bodies = FreshBodies(execution: answer.body)
        let account = shared(account)
        var entry = Self.entry(from: answer, account: account, now: now, lifetime: lifetime)
        if wantsEngagement {
            let engagement = engagementBody(from: answer.body)
            entry = entry.withEngagementView(Zlib.compress(engagement, format: .gzip, level: 6))
            bodies.engagement = engagement
        }
        if lifetime != .notCached, let key = CacheKey(account: account, route: route, query: query) {
            cache.put(key, entry)
        }
        return (entry, bodies)
    }

    private func shared(_ account: String) -> String {
        accountNames.withLock { names in
            if let known = names.firstIndex(of: account) { return names[known] }
            if names.count < 100_000 { names.insert(account) }
            return account
        }
    }

    private static func entry(
        from answer: UpstreamAnswer, account: String, now: Double, lifetime: CachePolicy.Lifetime
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
            expiresAt: expiresAt)
    }

    /// Studio's usual content type as a literal, so a hundred thousand entries share one string.
    private static func interned(_ contentType: String) -> String {
        switch contentType {
        case "application/json": "application/json"
        case "application/json; charset=utf-8": "application/json; charset=utf-8"
        default: contentType
        }
    }

    private func engagementBody(from execution: [UInt8]) -> [UInt8] {
        StudioJSONRewriter.rewrite(execution, engagementView) ?? execution
    }

    /// `entry` with its Engagement view, made now from `execution` (or the entry's own body) and
    /// kept in the cache if the key still holds this entry. Returns the view's identity body too.
    func addingEngagementView(
        to entry: CachedResponse, execution: [UInt8]?, route: StudioRoute, query: String
    ) -> (entry: CachedResponse, engagement: [UInt8]) {
        let engagement = engagementBody(from: execution ?? entry.identityBody ?? Self.inflated(entry.gzipBody))
        let updated = entry.withEngagementView(Zlib.compress(engagement, format: .gzip, level: 6))
        replace(entry, with: updated, route: route, query: query)
        return (updated, engagement)
    }

    /// `entry` with its gzip body, compressed now (fast: the entry is short-lived) and kept in the
    /// cache if the key still holds this entry, so it is compressed once.
    func addingGzip(to entry: CachedResponse, route: StudioRoute, query: String) -> CachedResponse {
        guard entry.gzipBody == nil, let identity = entry.identityBody else { return entry }
        let updated = entry.withGzipBody(Zlib.compress(identity, format: .gzip, level: 1))
        replace(entry, with: updated, route: route, query: query)
        return updated
    }

    private func replace(_ entry: CachedResponse, with updated: CachedResponse, route: StudioRoute, query: String) {
        if let key = CacheKey(account: entry.account, route: route, query: query) {
            cache.replace(key, entry, with: updated)
        }
    }

    /// Bytes the gateway compressed itself: failing to inflate them would be a bug, not bad input.
    static func inflated(_ gzip: [UInt8]?) -> [UInt8] {
        (try? Zlib.decompress(gzip ?? [], format: .gzip)) ?? []
    }

    /// What a successful write outdated: groups of entries to drop (everywhere, with a fleet).
    struct Invalidation: Equatable {
        var group: CacheGroup
        /// An update keeps permanent entries (an ended execution's data does not change).
        var shortLivedOnly: Bool
    }

    /// After a successful write (docs/ARCHITECTURE.md, «Cache policy»): create → the flow's list
    /// pages go; delete → everything under the execution; update → its short-lived children go
    /// and the answer is stored as the execution (permanent once ended). Returns what was
    /// dropped and the entry stored, so a fleet can do the same.
    func invalidate(after method: HTTPMethod, route: StudioRoute, answer: UpstreamAnswer, account: String?, now: Double)
        -> (dropped: [Invalidation], stored: (key: CacheKey, entry: CachedResponse)?)
    {
        guard let flow = route.flow, route.resource != .flowAdmin else { return ([], nil) }
        var dropped = [Invalidation(group: .lists(flow: flow), shortLivedOnly: false)]
        if let execution = route.execution, route.resource == .execution, method == .delete || method == .post {
            dropped.append(Invalidation(group: CacheGroup(execution), shortLivedOnly: method == .post))
        }
        for invalidation in dropped { drop(invalidation) }
        guard method == .post, route.resource == .execution, let account,
            let key = CacheKey(account: account, route: route, query: "")
        else { return (dropped, nil) }
        let stored = store(answer, account: account, route: route, query: "", endedBeforeRequest: false, now: now)
        return (dropped, (key, stored.entry))
    }

    /// Drops a group here (also when another pod reports a write).
    func drop(_ invalidation: Invalidation) {
        if invalidation.shortLivedOnly {
            cache.removeGroup(invalidation.group) { _, entry in !entry.isPermanent }
        } else {
            cache.removeGroup(invalidation.group)
            if let execution = invalidation.group.execution { statuses.forget(execution) }
        }
    }
}
