import Auth
import Cache
import EventLoop
import Foundation
import Locking
import Redis
import Sealing
import Studio
import Synchronization

/// The fleet (`--redis`): the second cache level, shared by every sidecar of a service through
/// Redis. It owns everything the pods share there: entries (looked up, adopted into this pod's
/// first level, shared after a fetch), credential proofs, per-key leases, the invalidations a
/// write and the purges an operator send to every pod, and the subscription that hears them. Best
/// effort throughout: Redis down, slow or answering garbage reads as "not there" (the client's
/// few-millisecond budget and circuit breaker keep that fast), so no client ever sees a Redis error.
///
/// With a data key (`--data-key`) every value and message is sealed (AES-256-GCM, its Redis key or
/// channel as associated data): Redis holds nothing readable, and a value cannot be made up, changed
/// or moved to another key. Proofs are shared only then: without a key, a writer to Redis could
/// mint one for a made-up credential. Entries carry their account either way, checked on read.
public final class Fleet: Sendable {
    public let client: RedisClient
    let keys: FleetKeys
    /// Nil without `--data-key`: values in clear, proofs not shared.
    let sealer: Sealer?
    /// How long a pod that lost the lease waits for the winner's entry before asking Twilio itself.
    let leaseWait: Double
    /// Monotonic seconds, the gateway's clock (entries' times are on it).
    let clock: @Sendable () -> Double
    /// Seconds since 1970: what the pods' times are converted through, since each pod's monotonic
    /// clock starts at its own boot.
    let wallClock: @Sendable () -> Double
    let firstLevel: any FirstLevel
    /// What the bodies look like in Redis: free of this pod's public URL.
    let form: FleetForm
    let credentials: CredentialBook
    public let hits = Atomic<Int>(0)
    public let misses = Atomic<Int>(0)
    /// Values that did not open or decode, or named another account: refused and deleted.
    public let refused = Atomic<Int>(0)
    /// Tells this pod's own messages apart from the fleet's.
    let instance = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    /// The subscription to other pods' notices runs on a loop of its own.
    private let listener: EventLoopGroup?
    /// The flow and account index members this pod wrote lately (not written again per share).
    let recentIndexes = RecentIndexes()
    private let subscription = Locked<RedisSubscription?>(nil)

    /// Permanent (ended) entries still expire in Redis: Studio keeps execution data for 30 days.
    public static let permanentMilliseconds = 30 * 24 * 3600 * 1000
    static let leaseMilliseconds = 5_000
    /// The budget of what no request waits for (stores, index writes, deletions, notices): long
    /// enough that a busy moment does not lose a revocation or a store; a lookup, a proof and a
    /// lease (a request waits for them) keep the client's few milliseconds.
    static let backgroundMilliseconds = 250

    /// Starts hearing the other pods at once: a write elsewhere must reach this pod's first level
    /// from its first request on.
    public init(
        client: RedisClient, prefix: String, dataKeys: DataKeys?, firstLevel: any FirstLevel,
        credentials: CredentialBook, clock: @escaping @Sendable () -> Double,
        wallClock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }, leaseWait: Double = 1,
        form: FleetForm = .unchanged
    ) {
        self.client = client
        keys = FleetKeys(prefix: prefix, naming: dataKeys?.naming)
        sealer = dataKeys.map(Sealer.init)
        self.firstLevel = firstLevel
        self.form = form
        self.credentials = credentials
        self.clock = clock
        self.wallClock = wallClock
        self.leaseWait = leaseWait
        listener = try? EventLoopGroup(threads: 1)
        listen()
    }

    /// Whether credential proofs are shared (only with a data key).
    public var sharesProofs: Bool { sealer != nil }

    /// The server's loops: the Redis connections are opened on each now, so the first requests do
    /// not wait for them.
    public func start(on loops: [EventLoop]) { client.start(on: loops) }

    /// Ends the subscription and its loop (the gateway is shutting down).
    public func stop() {
        subscription.withLock { live in
            live?.cancel()
            live = nil
        }
        listener?.shutdown()
    }

    // MARK: values

    /// What is written under `key`: sealed for that key when there is a data key.
    private func value(_ plaintext: [UInt8], for key: String) -> [UInt8] {
        sealer?.seal(plaintext, place: Array(key.utf8)) ?? plaintext
    }

    /// What was read under `key`, opened; nil when it does not open (another key, another place,
    /// changed, or written in clear while the fleet seals).
    private func plaintext(_ value: [UInt8], for key: String) -> [UInt8]? {
        guard let sealer else { return value }
        return sealer.open(value, place: Array(key.utf8))
    }

    // MARK: entries

    /// The entry under `key` if Redis has one for `key.account`; a value that does not open or
    /// decode, or belongs to another account, is deleted and counted.
    func lookUp(_ key: CacheKey, on loop: EventLoop, _ done: @escaping (CachedResponse?) -> Void) {
        let redisKey = keys.entry(key)
        client.get(redisKey, on: loop) { [self] result in
            guard case .success(let value?) = result else {
                misses.wrappingAdd(1, ordering: .relaxed)
                return done(nil)
            }
            guard let plaintext = plaintext(value, for: redisKey),
                let entry = FleetEntryCodec.decode(plaintext, monotonicNow: clock(), wallNow: wallClock()),
                entry.account == key.account
            else {
                refused.wrappingAdd(1, ordering: .relaxed)
                client.delete([redisKey], on: loop, timeoutMilliseconds: Self.backgroundMilliseconds) { _ in }
                return done(nil)
            }
            hits.wrappingAdd(1, ordering: .relaxed)
            done(entry)
        }
    }

    /// A fresh entry another pod stored, in this pod's form (its public URL), kept in its first
    /// level too; nil if stale.
    func adopt(_ entry: CachedResponse?, key: CacheKey) -> CachedResponse? {
        guard let entry, entry.isFresh(now: clock()) else { return nil }
        let local = form.fromFleet(entry)
        firstLevel.adopt(key, local)
        return local
    }

    /// Shares what this pod fetched (for as long as it lives here) and lists its key under its
    /// group, so a write anywhere can find and drop it, and the group under its flow and the flow
    /// under its account, so an operator's purge can.
    public func share(_ key: CacheKey, _ entry: CachedResponse, on loop: EventLoop) {
        let now = clock()
        let lifetime = entry.expiresAt.map { Int(($0 - now) * 1000) } ?? Self.permanentMilliseconds
        guard lifetime > 0 else { return }
        let redisKey = keys.entry(key)
        let encoded = FleetEntryCodec.encode(form.toFleet(entry), monotonicNow: now, wallNow: wallClock())
        client.set(
            redisKey, value(encoded, for: redisKey), expireMilliseconds: lifetime, on: loop,
            timeoutMilliseconds: Self.backgroundMilliseconds
        ) { _ in }
        index(redisKey, in: keys.group(key.group), on: loop)
        if let flow = key.flowSID?.value {
            let flowGroups = keys.flowGroups(flow)
            let accountFlows = keys.accountFlows(key.account)
            if recentIndexes.needsAdding(key.group.description, to: flowGroups, now: now) {
                index(key.group.description, in: flowGroups, on: loop)
            }
            if recentIndexes.needsAdding(flow, to: accountFlows, now: now) { index(flow, in: accountFlows, on: loop) }
        }
    }

    /// `SADD set member` and keeps the set as long as the longest entry it can list (and the
    /// cross-slot indexes, written again only every `RecentIndexes.refresh`, that much longer).
    private func index(_ member: String, in set: String, on loop: EventLoop) {
        let lifetime = Self.permanentMilliseconds + Int(RecentIndexes.refresh * 1000)
        client.send(
            RedisCommand(["SADD", .string(set), .string(member)]), on: loop,
            timeoutMilliseconds: Self.backgroundMilliseconds
        ) { _ in }
        client.send(
            RedisCommand(["PEXPIRE", .string(set), .string(String(lifetime))]), on: loop,
            timeoutMilliseconds: Self.backgroundMilliseconds
        ) { _ in }
    }

    // MARK: leases

    /// One pod per key calls the upstream: true for the pod that took the lease (or when Redis
    /// cannot say: then every pod asks for itself, as without a fleet).
    func takeLease(_ key: CacheKey, on loop: EventLoop, _ done: @escaping (Bool) -> Void) {
        client.set(keys.lease(key), [1], expireMilliseconds: Self.leaseMilliseconds, onlyIfAbsent: true, on: loop) {
            result in
            if case .success(let taken) = result { done(taken) } else { done(true) }
        }
    }

    func releaseLease(_ key: CacheKey, on loop: EventLoop) {
        client.delete([keys.lease(key)], on: loop, timeoutMilliseconds: Self.backgroundMilliseconds) { _ in }
    }

    // MARK: writes

    /// A write through this pod reaches the whole fleet: the Redis copies of what it outdated are
    /// deleted, then every pod is told to drop its own (in that order: a pod told first could read
    /// the old copy back from Redis before it went; its commands and ours may take different
    /// connections, or nodes), and then an update's answer (`stored`) is shared like any fetched entry.
    public func spread(
        _ dropped: [CacheInvalidation], thenShare stored: (key: CacheKey, entry: CachedResponse)?, on loop: EventLoop
    ) {
        guard !dropped.isEmpty else { return }
        var remaining = dropped.count
        for invalidation in dropped {
            deleteGroup(invalidation.group, account: nil, on: loop) { [self] _ in
                publish(.dropGroup(invalidation), on: loop)
                remaining -= 1
                guard remaining == 0, let (key, entry) = stored else { return }
                share(key, entry, on: loop)
            }
        }
    }

    /// Deletes a group's entries (of `account` only, if given) and, when all went, its set;
    /// `done` gets how many entries were deleted.
    private func deleteGroup(
        _ group: CacheGroup, account: String?, on loop: EventLoop, _ done: @escaping (Int) -> Void
    ) {
        let set = keys.group(group)
        members(of: set, on: loop) { [self] members in
            let marker = account.map { keys.entryMarker(account: $0) }
            let doomed = marker.map { marker in members.filter { $0.contains(marker) } } ?? members
            guard !doomed.isEmpty || account == nil else { return done(0) }
            // Every member shares the set's hash tag: one command, one slot.
            let command = doomed.count == members.count ? [set] + doomed : doomed
            client.delete(command, on: loop, timeoutMilliseconds: Self.backgroundMilliseconds) { result in
                guard case .success(let deleted) = result else { return done(0) }
                done(max(0, deleted - (command.first == set ? 1 : 0)))
            }
            if doomed.count < members.count {
                client.send(
                    RedisCommand(["SREM", .string(set)] + doomed.map { .string($0) }), on: loop,
                    timeoutMilliseconds: Self.backgroundMilliseconds
                ) { _ in }
            }
        }
    }

    private func members(of set: String, on loop: EventLoop, _ done: @escaping ([String]) -> Void) {
        client.send(
            RedisCommand(["SMEMBERS", .string(set)]), on: loop, timeoutMilliseconds: Self.backgroundMilliseconds
        ) { result in
            var members: [String] = []
            if case .success(.array(let values?)) = result {
                for case .bulkString(let member?) in values { members.append(String(decoding: member, as: UTF8.self)) }
            }
            done(members)
        }
    }

    // MARK: purges

    /// An operator's purge, fleet-wide: the Redis copies are deleted, through the indexes `share`
    /// keeps (groups by flow, flows by account), so an account's data is found across every slot
    /// of a cluster; then every pod is told to drop its own (after: see `spread`). `done` gets how
    /// many Redis entries went.
    ///
    /// A contact's purge (an erasure) names its executions: those `knownExecutions` this pod
    /// knows and those any pod listed under the contact's index (`indexContact`); each is purged
    /// as one execution, so every pod is told of SIDs only, never of the contact or its address.
    public func purge(
        _ scope: PurgeScope, knownExecutions: [SID] = [], on loop: EventLoop, _ done: @escaping (Int) -> Void
    ) {
        if let contact = scope.contact { return purgeContact(contact, known: knownExecutions, on: loop, done) }
        recentIndexes.forgetAll()  // a purge may have deleted indexes this pod thinks are there
        deleteCopies(scope, on: loop) { [self] removed in
            publish(.purge(scope), on: loop)
            done(removed)
        }
    }

    private func deleteCopies(_ scope: PurgeScope, on loop: EventLoop, _ done: @escaping (Int) -> Void) {
        if let execution = scope.execution {
            return deleteGroup(CacheGroup(execution), account: scope.account, on: loop, done)
        }
        if let flow = scope.flow { return purgeFlow(flow, account: scope.account, on: loop, done) }
        guard let account = scope.account else { return done(0) }
        members(of: keys.accountFlows(account), on: loop) { [self] flows in
            Self.gather(flows, done) { flow, counted in purgeFlow(flow, account: account, on: loop, counted) }
        }
    }

    private func purgeContact(
        _ contact: ExecutionContact, known: [SID], on loop: EventLoop, _ done: @escaping (Int) -> Void
    ) {
        let indexes = [contact.sid, contact.address].compactMap { $0 }.map(keys.contact)
        var found = Set(known)
        var remaining = indexes.count
        let purgeAll = { [self] in
            client.delete(indexes, on: loop, timeoutMilliseconds: Self.backgroundMilliseconds) { _ in }
            Self.gather(Array(found), done) { execution, counted in
                deleteGroup(CacheGroup(execution), account: nil, on: loop) { [self] deleted in
                    publish(.purge(PurgeScope(execution: execution, flow: nil, account: nil)!), on: loop)
                    counted(deleted)
                }
            }
        }
        guard remaining > 0 else { return purgeAll() }
        for index in indexes {
            members(of: index, on: loop) { members in
                for member in members { if let sid = SID(member, prefix: "FN") { found.insert(sid) } }
                remaining -= 1
                if remaining == 0 { purgeAll() }
            }
        }
    }

    /// Lists `execution` under its contact's indexes, so a purge by contact on any pod finds it;
    /// the index lives as long as the latest execution's data may (`milliseconds`: the retention).
    public func indexContact(_ contact: ExecutionContact, execution: SID, milliseconds: Int, on loop: EventLoop) {
        guard milliseconds > 0 else { return }
        for text in [contact.sid, contact.address].compactMap({ $0 }) {
            let index = keys.contact(text)
            client.send(
                RedisCommand(["SADD", .string(index), .string(execution.value)]), on: loop,
                timeoutMilliseconds: Self.backgroundMilliseconds
            ) { _ in }
            client.send(
                RedisCommand(["PEXPIRE", .string(index), .string(String(milliseconds))]), on: loop,
                timeoutMilliseconds: Self.backgroundMilliseconds
            ) { _ in }
        }
    }

    private func purgeFlow(_ flow: String, account: String?, on loop: EventLoop, _ done: @escaping (Int) -> Void) {
        members(of: keys.flowGroups(flow), on: loop) { [self] groups in
            Self.gather(groups.compactMap(CacheGroup.init), done) { group, counted in
                deleteGroup(group, account: account, on: loop, counted)
            }
        }
    }

    /// Runs `each` for every item and hands `done` the sum once all have answered (all on one loop).
    private static func gather<Item>(
        _ items: [Item], _ done: @escaping (Int) -> Void, _ each: (Item, @escaping (Int) -> Void) -> Void
    ) {
        guard !items.isEmpty else { return done(0) }
        var remaining = items.count
        var total = 0
        for item in items {
            each(item) { count in
                total += count
                remaining -= 1
                if remaining == 0 { done(total) }
            }
        }
    }

    // MARK: proofs

    /// A credential the upstream verified here is verified on every pod, for the auth TTL: under a
    /// key named by an HMAC of its digest, the account sealed. Only with a data key.
    public func shareProof(_ credential: SHA256Digest, account: String, family: ResourceFamily, on loop: EventLoop) {
        let ttl = credentials.ttl
        guard ttl > 0, let sealer else { return }
        let key = keys.proof(credential, family: family, naming: sealer.keys.naming)
        client.set(
            key, value(Array(account.utf8), for: key), expireMilliseconds: Int(ttl * 1000), on: loop,
            timeoutMilliseconds: Self.backgroundMilliseconds
        ) { _ in }
    }

    /// The account another pod proved `credential` for, if any; kept in this pod's book too. Nil
    /// at once without a data key (proofs are not shared then).
    public func proof(
        for credential: SHA256Digest, family: ResourceFamily, on loop: EventLoop, _ done: @escaping (String?) -> Void
    ) {
        guard let sealer else { return done(nil) }
        let key = keys.proof(credential, family: family, naming: sealer.keys.naming)
        client.get(key, on: loop) { [self] result in
            guard case .success(let value?) = result else { return done(nil) }
            guard let opened = plaintext(value, for: key), let account = String(validating: opened, as: UTF8.self),
                SID(account, prefix: "AC") != nil
            else {
                refused.wrappingAdd(1, ordering: .relaxed)
                client.delete([key], on: loop, timeoutMilliseconds: Self.backgroundMilliseconds) { _ in }
                return done(nil)
            }
            credentials.verify(credential, account: account, family: family, now: clock())
            done(account)
        }
    }

    /// A 401 (every family) or 403 (one family) anywhere ends the proof everywhere.
    public func revokeProof(_ credential: SHA256Digest, family: ResourceFamily?, on loop: EventLoop) {
        if let sealer {
            let families = family.map { [$0] } ?? ResourceFamily.all
            // One credential's proofs share a hash tag: one command, one slot.
            let proofKeys = families.map { keys.proof(credential, family: $0, naming: sealer.keys.naming) }
            // Told after the proofs went (see `spread`): a pod that forgot first could find the
            // proof still there and learn it again.
            return client.delete(proofKeys, on: loop, timeoutMilliseconds: Self.backgroundMilliseconds) { [self] _ in
                publish(.forgetCredential(credential, family: family), on: loop)
            }
        }
        publish(.forgetCredential(credential, family: family), on: loop)
    }

    // MARK: what pods tell each other

    private func publish(_ notice: FleetNotice, on loop: EventLoop) {
        let message = notice.message(from: instance)
        let payload = sealer?.seal(message, place: Array(keys.channel.utf8)) ?? message
        client.publish(keys.channel, payload, on: loop, timeoutMilliseconds: Self.backgroundMilliseconds) { _ in }
    }

    /// Hears other pods' writes, revocations and purges on the listener's loop. After a
    /// reconnection, whatever was said meanwhile is lost: `.missedNotices` says so.
    private func listen() {
        guard let loop = listener?.loops.first else { return }
        let channel = keys.channel
        let instance = self.instance
        loop.execute { [self] in
            let live = client.subscribe([channel], on: loop) { [self] event in
                switch event {
                case .message(_, let payload):
                    guard let message = sealer.map({ $0.open(payload, place: Array(channel.utf8)) }) ?? payload,
                        let notice = FleetNotice.parse(message, ignoring: instance)
                    else { return }
                    apply(notice)
                case .subscribed(resumed: true):
                    apply(.missedNotices)
                case .subscribed, .disconnected:
                    break
                }
            }
            subscription.withLock { $0 = live }
        }
    }

    func apply(_ notice: FleetNotice) {
        switch notice {
        case .dropGroup(let invalidation): firstLevel.drop(invalidation)
        case .forgetCredential(let credential, nil): credentials.forget(credential)
        case .forgetCredential(let credential, let family?): credentials.forget(credential, family: family)
        case .purge(let scope):
            recentIndexes.forgetAll()
            _ = firstLevel.purge(scope)
        // Writes elsewhere may have gone unheard: keep only what cannot have changed.
        case .missedNotices: firstLevel.dropShortLived()
        }
    }
}
