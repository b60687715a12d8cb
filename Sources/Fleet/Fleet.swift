import Auth
import Cache
import EventLoop
import Foundation
import Locking
import Redis
import Studio
import Synchronization

/// The fleet (`--redis`): the second cache level, shared by every sidecar of a service through
/// Redis. It owns everything the pods share there: entries (looked up, adopted into this pod's
/// first level, shared after a fetch), credential proofs, per-key leases, the invalidations a
/// write sends to every pod, and the subscription that hears them. Best effort throughout: Redis
/// down, slow or answering garbage reads as "not there" (the client's few-millisecond budget and
/// circuit breaker keep that fast), so no client ever sees a Redis error.
///
/// Values carry the account too, checked on every read.
public final class Fleet: Sendable {
    public let client: RedisClient
    let keys: FleetKeys
    /// How long a pod that lost the lease waits for the winner's entry before asking Twilio itself.
    let leaseWait: Double
    /// Monotonic seconds, the gateway's clock (entries' times are on it).
    let clock: @Sendable () -> Double
    /// Seconds since 1970: what the pods' times are converted through, since each pod's monotonic
    /// clock starts at its own boot.
    let wallClock: @Sendable () -> Double
    let firstLevel: any FirstLevel
    let credentials: CredentialBook
    public let hits = Atomic<Int>(0)
    public let misses = Atomic<Int>(0)
    /// Values that did not decode or named another account: refused and deleted.
    public let refused = Atomic<Int>(0)
    /// Tells this pod's own messages apart from the fleet's.
    let instance = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    /// The subscription to other pods' notices runs on a loop of its own.
    private let listener: EventLoopGroup?
    private let subscription = Locked<RedisSubscription?>(nil)

    /// Permanent (ended) entries still expire in Redis: Studio keeps execution data for 30 days.
    static let permanentMilliseconds = 30 * 24 * 3600 * 1000
    static let leaseMilliseconds = 5_000

    /// Starts hearing the other pods at once: a write elsewhere must reach this pod's first level
    /// from its first request on.
    public init(
        client: RedisClient, prefix: String, firstLevel: any FirstLevel, credentials: CredentialBook,
        clock: @escaping @Sendable () -> Double,
        wallClock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }, leaseWait: Double = 1
    ) {
        self.client = client
        keys = FleetKeys(prefix: prefix)
        self.firstLevel = firstLevel
        self.credentials = credentials
        self.clock = clock
        self.wallClock = wallClock
        self.leaseWait = leaseWait
        listener = try? EventLoopGroup(threads: 1)
        listen()
    }

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

    // MARK: entries

    /// The entry under `key` if Redis has one for `key.account`; a value that does not decode or
    /// belongs to another account is deleted and counted.
    func lookUp(_ key: CacheKey, on loop: EventLoop, _ done: @escaping (CachedResponse?) -> Void) {
        let redisKey = keys.entry(key)
        client.get(redisKey, on: loop) { [self] result in
            guard case .success(let value?) = result else {
                misses.wrappingAdd(1, ordering: .relaxed)
                return done(nil)
            }
            guard let entry = FleetEntryCodec.decode(value, monotonicNow: clock(), wallNow: wallClock()),
                entry.account == key.account
            else {
                refused.wrappingAdd(1, ordering: .relaxed)
                client.delete([redisKey], on: loop) { _ in }
                return done(nil)
            }
            hits.wrappingAdd(1, ordering: .relaxed)
            done(entry)
        }
    }

    /// A fresh entry another pod stored, kept in this pod's first level too; nil if stale.
    func adopt(_ entry: CachedResponse?, key: CacheKey) -> CachedResponse? {
        guard let entry, entry.isFresh(now: clock()) else { return nil }
        firstLevel.adopt(key, entry)
        return entry
    }

    /// Shares what this pod fetched (for as long as it lives here) and lists its key under its
    /// group, so a write anywhere can find and drop it.
    public func share(_ key: CacheKey, _ entry: CachedResponse, on loop: EventLoop) {
        let now = clock()
        let lifetime = entry.expiresAt.map { Int(($0 - now) * 1000) } ?? Self.permanentMilliseconds
        guard lifetime > 0 else { return }
        let value = FleetEntryCodec.encode(entry, monotonicNow: now, wallNow: wallClock())
        let redisKey = keys.entry(key)
        let group = keys.group(account: key.account, key.group)
        client.set(redisKey, value, expireMilliseconds: lifetime, on: loop) { _ in }
        client.send(RedisCommand(["SADD", .string(group), .string(redisKey)]), on: loop) { _ in }
        client.send(RedisCommand(["PEXPIRE", .string(group), .string(String(Self.permanentMilliseconds))]), on: loop) {
            _ in
        }
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

    func releaseLease(_ key: CacheKey, on loop: EventLoop) { client.delete([keys.lease(key)], on: loop) { _ in } }

    // MARK: writes

    /// A write through this pod reaches the whole fleet: the Redis copies of what it outdated are
    /// deleted, every pod drops its own, and then an update's answer (`stored`) is shared like any
    /// fetched entry. `account`: whose Redis copies; nil when the write could not be attributed
    /// (then only the pods' copies go).
    public func spread(
        _ dropped: [CacheInvalidation], thenShare stored: (key: CacheKey, entry: CachedResponse)?, account: String?,
        on loop: EventLoop
    ) {
        guard !dropped.isEmpty else { return }
        var remaining = dropped.count
        for invalidation in dropped {
            invalidate(invalidation, account: account, on: loop) { [self] in
                remaining -= 1
                guard remaining == 0, let (key, entry) = stored else { return }
                share(key, entry, on: loop)
            }
        }
    }

    private func invalidate(
        _ invalidation: CacheInvalidation, account: String?, on loop: EventLoop, _ done: @escaping () -> Void
    ) {
        client.publish(keys.channel, FleetNotice.dropGroup(invalidation).message(from: instance), on: loop) { _ in }
        guard let account else { return done() }
        let set = keys.group(account: account, invalidation.group)
        client.send(RedisCommand(["SMEMBERS", .string(set)]), on: loop) { [self] result in
            var doomed = [set]
            if case .success(.array(let members?)) = result {
                for case .bulkString(let key?) in members { doomed.append(String(decoding: key, as: UTF8.self)) }
            }
            client.delete(doomed, on: loop) { _ in done() }
        }
    }

    // MARK: proofs

    /// A credential the upstream verified here is verified on every pod, for the auth TTL. The
    /// key is the SHA-256 digest (never the credential); the value is the account.
    public func shareProof(_ credential: SHA256Digest, account: String, family: ResourceFamily, on loop: EventLoop) {
        let ttl = credentials.ttl
        guard ttl > 0 else { return }
        client.set(
            keys.proof(credential, family: family), Array(account.utf8), expireMilliseconds: Int(ttl * 1000),
            on: loop
        ) { _ in }
    }

    /// The account another pod proved `credential` for, if any; kept in this pod's book too.
    public func proof(
        for credential: SHA256Digest, family: ResourceFamily, on loop: EventLoop, _ done: @escaping (String?) -> Void
    ) {
        client.get(keys.proof(credential, family: family), on: loop) { [self] result in
            guard case .success(let value?) = result, let account = String(validating: value, as: UTF8.self),
                SID(account, prefix: "AC") != nil
            else { return done(nil) }
            credentials.verify(credential, account: account, family: family, now: clock())
            done(account)
        }
    }

    /// A 401 (every family) or 403 (one family) anywhere ends the proof everywhere.
    public func revokeProof(_ credential: SHA256Digest, family: ResourceFamily?, on loop: EventLoop) {
        let families = family.map { [$0] } ?? ResourceFamily.all
        client.delete(families.map { keys.proof(credential, family: $0) }, on: loop) { _ in }
        let notice = FleetNotice.forgetCredential(credential, family: family)
        client.publish(keys.channel, notice.message(from: instance), on: loop) { _ in }
    }

    // MARK: what other pods say

    /// Hears other pods' writes and revocations on the listener's loop. After a reconnection,
    /// whatever was said meanwhile is lost: `.missedNotices` says so.
    private func listen() {
        guard let loop = listener?.loops.first else { return }
        let channel = keys.channel
        let instance = self.instance
        loop.execute { [self] in
            let live = client.subscribe([channel], on: loop) { [self] event in
                switch event {
                case .message(_, let payload):
                    if let notice = FleetNotice.parse(payload, ignoring: instance) { apply(notice) }
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
        // Writes elsewhere may have gone unheard: keep only what cannot have changed.
        case .missedNotices: firstLevel.dropShortLived()
        }
    }
}
