import Auth
import Cache
import EventLoop
import Foundation
import Locking
import Redis
import Studio
import Synchronization

/// The fleet's shared cache (`--redis`): entries, credential proofs, per-key leases and
/// invalidations, so sidecars in many pods ask Twilio once for what any of them fetched. Best
/// effort throughout: Redis down, slow or answering garbage reads as "not there" (the client's
/// few-millisecond budget and circuit breaker keep that fast), so no client ever sees a Redis error.
///
/// Keys carry the account in a hash tag (`{AC…}`), so one account's entries, group sets and leases
/// live in one Redis Cluster slot; values carry the account too, checked on every read.
final class SecondLevel: Sendable {
    let client: RedisClient
    let prefix: String
    /// How long a pod that lost the lease waits for the winner's entry before asking Twilio itself.
    let leaseWait: Double
    let hits = Atomic<Int>(0)
    let misses = Atomic<Int>(0)
    /// Values that did not decode or named another account: refused and deleted.
    let refused = Atomic<Int>(0)
    /// Tells this pod's own messages apart from the fleet's.
    let instance = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    /// The subscription to other pods' invalidations runs on a loop of its own.
    private let listener: EventLoopGroup?
    private let subscription = Locked<RedisSubscription?>(nil)

    /// Permanent (ended) entries still expire in Redis: Studio keeps execution data for 30 days.
    static let permanentMilliseconds = 30 * 24 * 3600 * 1000
    static let leaseMilliseconds = 5_000

    init(client: RedisClient, prefix: String, leaseWait: Double = 1) {
        self.client = client
        self.prefix = prefix
        self.leaseWait = leaseWait
        listener = try? EventLoopGroup(threads: 1)
    }

    /// Hears other pods' writes and revocations; `handle` runs on the listener's loop. After a
    /// reconnection, whatever was said meanwhile is lost: `.missedNotices` says so.
    func listen(_ handle: @escaping @Sendable (Notice) -> Void) {
        guard let loop = listener?.loops.first else { return }
        let channel = self.channel
        let instance = self.instance
        loop.execute { [self] in
            let live = client.subscribe([channel], on: loop) { event in
                switch event {
                case .message(_, let payload):
                    if let notice = Self.notice(payload, ignoring: instance) { handle(notice) }
                case .subscribed(resumed: true):
                    handle(.missedNotices)
                case .subscribed, .disconnected:
                    break
                }
            }
            subscription.withLock { $0 = live }
        }
    }

    var channel: String { prefix + "invalidate" }

    func entryKey(_ key: CacheKey) -> String { "\(prefix){\(key.account)}:e:\(key.resource)" }
    func groupKey(account: String, group: CacheGroup) -> String { "\(prefix){\(account)}:g:\(group)" }
    func leaseKey(_ key: CacheKey) -> String { "\(prefix){\(key.account)}:lease:\(key.resource)" }
    func proofKey(_ credential: SHA256Digest, family: Int) -> String { "\(prefix)proof:\(credential):\(family)" }

    private static var wallNow: Double { Date().timeIntervalSince1970 }

    // MARK: entries

    /// The entry under `key` if Redis has one for `key.account`; a value that does not decode or
    /// belongs to another account is deleted and counted.
    func fetch(_ key: CacheKey, now: Double, on loop: EventLoop, _ done: @escaping (CachedResponse?) -> Void) {
        let redisKey = entryKey(key)
        client.get(redisKey, on: loop) { [self] result in
            guard case .success(let value?) = result else {
                misses.wrappingAdd(1, ordering: .relaxed)
                return done(nil)
            }
            guard let entry = SharedEntryCodec.decode(value, monotonicNow: now, wallNow: Self.wallNow),
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

    /// Stores `entry` for the fleet (as long as it lives here) and lists its key under its group,
    /// so a write anywhere can find and drop it.
    func store(_ key: CacheKey, _ entry: CachedResponse, now: Double, on loop: EventLoop) {
        let lifetime = entry.expiresAt.map { Int(($0 - now) * 1000) } ?? Self.permanentMilliseconds
        guard lifetime > 0 else { return }
        let value = SharedEntryCodec.encode(entry, monotonicNow: now, wallNow: Self.wallNow)
        let redisKey = entryKey(key)
        let group = groupKey(account: key.account, group: key.group)
        client.set(redisKey, value, expireMilliseconds: lifetime, on: loop) { _ in }
        client.send(RedisCommand(["SADD", .string(group), .string(redisKey)]), on: loop) { _ in }
        client.send(RedisCommand(["PEXPIRE", .string(group), .string(String(Self.permanentMilliseconds))]), on: loop) {
            _ in
        }
    }

    /// One pod per key calls the upstream: true for the pod that took the lease (or when Redis
    /// cannot say: then every pod asks for itself, as without a fleet).
    func takeLease(_ key: CacheKey, on loop: EventLoop, _ done: @escaping (Bool) -> Void) {
        client.set(leaseKey(key), [1], expireMilliseconds: Self.leaseMilliseconds, onlyIfAbsent: true, on: loop) {
            result in
            if case .success(let taken) = result { done(taken) } else { done(true) }
        }
    }

    func releaseLease(_ key: CacheKey, on loop: EventLoop) { client.delete([leaseKey(key)], on: loop) { _ in } }

    /// Drops a group's entries fleet-wide: the Redis copies, and (by a message every pod hears)
    /// each pod's own. `shortLivedOnly`: pods keep their permanent entries (an update).
    func invalidate(
        account: String?, group: CacheGroup, shortLivedOnly: Bool, on loop: EventLoop, _ done: @escaping () -> Void
    ) {
        let message = Array("G \(shortLivedOnly ? "short" : "all") \(group) \(instance)".utf8)
        client.publish(channel, message, on: loop) { _ in }
        guard let account else { return done() }
        let set = groupKey(account: account, group: group)
        client.send(RedisCommand(["SMEMBERS", .string(set)]), on: loop) { [self] result in
            var keys = [set]
            if case .success(.array(let members?)) = result {
                for case .bulkString(let key?) in members { keys.append(String(decoding: key, as: UTF8.self)) }
            }
            client.delete(keys, on: loop) { _ in done() }
        }
    }

    // MARK: proofs

    /// A credential the upstream verified here is verified on every pod, for the auth TTL. The
    /// key is the SHA-256 digest (never the credential); the value is the account.
    func shareProof(_ credential: SHA256Digest, account: String, family: Int, ttl: Double, on loop: EventLoop) {
        guard ttl > 0 else { return }
        client.set(
            proofKey(credential, family: family), Array(account.utf8), expireMilliseconds: Int(ttl * 1000), on: loop
        ) {
            _ in
        }
    }

    /// The account another pod proved `credential` for, if any.
    func sharedProof(_ credential: SHA256Digest, family: Int, on loop: EventLoop, _ done: @escaping (String?) -> Void) {
        client.get(proofKey(credential, family: family), on: loop) { result in
            guard case .success(let value?) = result, let account = String(validating: value, as: UTF8.self),
                SID(account, prefix: "AC") != nil
            else { return done(nil) }
            done(account)
        }
    }

    /// A 401 (every family) or 403 (one family) anywhere ends the proof everywhere.
    func revokeProof(_ credential: SHA256Digest, family: Int?, on loop: EventLoop) {
        let families = family.map { [$0] } ?? Array(0..<8)
        client.delete(families.map { proofKey(credential, family: $0) }, on: loop) { _ in }
        let message = "P \(credential) \(family.map(String.init) ?? "all") \(instance)"
        client.publish(channel, Array(message.utf8), on: loop) { _ in }
    }

    // MARK: what other pods say

    enum Notice: Equatable {
        case dropGroup(EntryStore.Invalidation)
        case forgetCredential(SHA256Digest, family: Int?)
        /// The subscription was lost for a while: other pods' notices may be missing.
        case missedNotices
    }

    /// `G short|all GROUP FROM` or `P DIGEST FAMILY|all FROM`; nil for anything else, and for
    /// this pod's own messages (it already did what they say).
    static func notice(_ payload: [UInt8], ignoring instance: String) -> Notice? {
        let words = String(decoding: payload, as: UTF8.self).split(separator: " ")
        guard words.count == 4, words[3] != instance else { return nil }
        switch words[0] {
        case "G" where words[1] == "short" || words[1] == "all":
            guard let group = CacheGroup(String(words[2])) else { return nil }
            return .dropGroup(EntryStore.Invalidation(group: group, shortLivedOnly: words[1] == "short"))
        case "P":
            guard let digest = SHA256Digest(hex: words[1]) else { return nil }
            if words[2] == "all" { return .forgetCredential(digest, family: nil) }
            guard let family = Int(words[2]), (0..<8).contains(family) else { return nil }
            return .forgetCredential(digest, family: family)
        default:
            return nil
        }
    }
}
