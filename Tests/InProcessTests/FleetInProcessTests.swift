import Cache
import Compression
import Foundation
import HTTP
import Locking
import Sealing
import Studio
import Upstream
import XCTest

@testable import Fleet
@testable import Gateway
@testable import TestSupport

/// The fleet's rules with two pods in process over a scripted RESP server: what reaches Redis and
/// for how long, who may read it, what writes and revocations do on the other pod, what a lost
/// subscription drops, and that a Redis that is down or hangs never delays a miss by the lease.
final class FleetInProcessTests: XCTestCase {
    typealias S = StudioBodies

    func testAnEndedEntryFetchedByOnePodIsASecondLevelHitOnTheOther() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let sid = S.execution(1)
        for pod in fleet.pods { pod.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) } }
        XCTAssertEqual(try a.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        try fleet.awaitShared(entries: 1)
        let shared = try b.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(shared.headers["X-Cache"], "HIT")
        XCTAssertEqual(shared.headers["X-Cache-Level"], "L2")
        XCTAssertEqual(b.upstream.requests.count, 0, "the proof and the entry both came from the fleet")
        XCTAssertEqual(
            try b.send(.get, S.path(sid), auth: S.authA).headers["X-Cache-Level"], nil, "now a first-level hit")
        XCTAssertTrue(
            b.gateway.store.isEnded(SID(sid, prefix: "FN")), "an ended entry adopted marks its execution ended")
    }

    /// Pod A's bodies name A's `--public-url`; pod B must answer an entry A stored with its own,
    /// in every form (ended and gzip-compressed, short-lived and identity, the Engagement view) and
    /// from both levels.
    func testEveryPodAnswersWithItsOwnPublicURLWhicheverPodStoredTheEntry() throws {
        let urls = ["http://pod-a.test:8080", "http://pod-b.test:9090"]
        let fleet = try InProcessFleet { index, config in
            config.publicURL = urls[index]
            config.activeTTL = 30
        }
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let (ended, active, engaged) = (S.execution(40), S.execution(41), S.execution(42))
        for pod in fleet.pods {
            pod.upstream.answer { request in
                let path = request.pathAndQuery
                if path.hasSuffix(active) { return S.ok(S.executionJSON(active, status: "active")) }
                if path.hasSuffix(engaged) { return S.ok(S.executionJSON(engaged, status: "ended", version: "v1")) }
                return S.ok(S.executionJSON(ended, status: "ended"))
            }
        }
        let paths = [S.path(ended), S.path(active), "/v1/Flows/\(S.flow)/Engagements/\(engaged)"]
        for path in paths {
            let fromA = try a.send(.get, path, auth: S.authA)
            XCTAssertEqual(fromA.headers["X-Cache"], "MISS", path)
            XCTAssertTrue(String(decoding: fromA.body, as: UTF8.self).contains("\"\(urls[0])/v"), path)
        }
        try waitUntil("pod A's three entries are in Redis") { fleet.entryKeys.count == 3 }
        for path in paths {
            let fromB = try b.send(.get, path, auth: S.authA)
            XCTAssertEqual(fromB.headers["X-Cache-Level"], "L2", path)
            let text = String(decoding: fromB.body, as: UTF8.self)
            XCTAssertFalse(text.contains("pod-a"), text)
            XCTAssertTrue(text.contains("\"\(urls[1])/v"), text)
            let again = try b.send(.get, path, auth: S.authA, headers: ["Accept-Encoding": "gzip"])
            XCTAssertEqual(again.headers["X-Cache"], "HIT", path)
            XCTAssertNil(again.headers["X-Cache-Level"], "a first-level hit: \(path)")
            let body =
                again.headers["Content-Encoding"] == "gzip"
                ? try Zlib.decompress(again.body, format: .gzip) : again.body
            XCTAssertEqual(body, fromB.body, path)
            XCTAssertTrue(path.contains("Engagements") == text.contains("/Engagements/"), text)
        }
        for (key, entry) in b.gateway.store.entries(where: { _, _ in true }) {
            let body = try entry.identityBody ?? Zlib.decompress(entry.gzipBody ?? [], format: .gzip)
            XCTAssertEqual(entry.identityLength, body.count, "Content-Length of \(key)")
        }
        XCTAssertEqual(b.upstream.requests.count, 0)
        XCTAssertTrue(
            String(decoding: try a.send(.get, S.path(ended), auth: S.authA).body, as: UTF8.self).contains(urls[0]),
            "pod A still answers with its own")
    }

    /// What Redis holds names no pod: Studio's own origin (seen in clear, without a data key).
    func testRedisHoldsBodiesWithStudiosOriginNotThePodsPublicURL() throws {
        let fleet = try InProcessFleet { config in
            config.publicURL = "http://pod-a.test:8080"
            config.activeTTL = 30
            config.dataKey = nil
        }
        let sid = S.execution(43)
        fleet.pods[0].upstream.answer { _ in S.ok(S.executionJSON(sid, status: "active")) }
        _ = try fleet.pods[0].send(.get, S.path(sid), auth: S.authA)
        try waitUntil("the entry is in Redis") { fleet.entryKeys.count == 1 }
        let value = String(decoding: try XCTUnwrap(fleet.redis.value(of: fleet.entryKeys[0])), as: UTF8.self)
        XCTAssertTrue(value.contains("\"https://studio.twilio.com/v2/Flows/\(S.flow)/Executions/\(sid)\""), value)
        XCTAssertFalse(value.contains("pod-a"), value)
    }

    func testAShortLivedEntryLivesInRedisForWhatIsLeftOfItsTTLAndNoLonger() throws {
        let fleet = try InProcessFleet { $0.activeTTL = 2 }
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let sid = S.execution(2)
        for pod in fleet.pods { pod.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "active")) } }
        _ = try b.send(.get, S.path(S.execution(99)), auth: S.authA)  // B's own proof, so B asks the fleet
        XCTAssertEqual(try a.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        try waitUntil("pod A's entry is in Redis") { fleet.entryKeys.contains { $0.hasSuffix(sid) } }
        let key = try XCTUnwrap(fleet.entryKeys.first { $0.hasSuffix(sid) })
        let ttl = fleet.redis.ttlMilliseconds(of: key)
        XCTAssertTrue((1_500...2_000).contains(ttl), "PX is what is left of the 2 s TTL, in ms: \(ttl)")
        fleet.advance(1.5)
        let within = try b.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(within.headers["X-Cache-Level"], "L2", "within the TTL another pod gets it from the fleet")
        fleet.advance(1)
        let after = try b.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(after.headers["X-Cache"], "MISS", "past the TTL nobody answers it")
        XCTAssertEqual(b.upstream.requests.map(\.pathAndQuery).filter { $0.hasSuffix(sid) }.count, 1)
    }

    func testAWriteThroughOnePodRemovesEveryCopySoTheOtherAnswersWhatTheUpstreamNowSays() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let sid = S.execution(3)
        let deleted = Locked(false)
        for pod in fleet.pods {
            pod.upstream.answer { request in
                if request.method == "DELETE" {
                    deleted.withLock { $0 = true }
                    return .success(UpstreamResponse(status: 204, headers: [:], body: []))
                }
                return deleted.withLock { $0 }
                    ? S.twilioError(404, code: 20404) : S.ok(S.executionJSON(sid, status: "ended"))
            }
        }
        _ = try a.send(.get, S.path(sid), auth: S.authA)
        try fleet.awaitShared(entries: 1)
        XCTAssertEqual(try b.send(.get, S.path(sid), auth: S.authA).headers["X-Cache-Level"], "L2")
        XCTAssertEqual(b.gateway.store.stats.entries, 1)
        XCTAssertEqual(try a.send(.delete, S.path(sid), auth: S.authA).status, 204)
        try waitUntil("the Redis copies and their group set are gone") {
            fleet.redis.keys().allSatisfy { !$0.contains("}:e:") && !$0.contains("}:g:") }
        }
        try waitUntil("pod B dropped its own copy") { b.gateway.store.stats.entries == 0 }
        let after = try b.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(after.status, 404, "pod B answers what the upstream says now, not the old entry")
        XCTAssertEqual(after.headers["X-Cache"], "MISS")
    }

    func testAfterMissedNoticesAPodDropsExactlyItsShortLivedEntries() throws {
        let fleet = try InProcessFleet()
        let b = fleet.pods[1]
        let (ended, active) = (S.execution(4), S.execution(5))
        b.upstream.answer { request in
            S.ok(
                S.executionJSON(
                    request.pathAndQuery.hasSuffix(ended) ? ended : active,
                    status: request.pathAndQuery.hasSuffix(ended) ? "ended" : "active"))
        }
        _ = try b.send(.get, S.path(ended), auth: S.authA)
        _ = try b.send(.get, S.path(active), auth: S.authA)
        XCTAssertEqual(b.gateway.store.stats.entries, 2)
        fleet.redis.disconnectAll()  // every subscription is lost for a moment: notices may be missed
        try waitUntil("pod B dropped what may have changed meanwhile") { b.gateway.store.stats.entries == 1 }
        let kept = b.gateway.store.entries { _, _ in true }
        XCTAssertEqual(kept.first?.0.resource, S.path(ended), "the ended execution's entry cannot have changed")
        XCTAssertEqual(try b.send(.get, S.path(ended), auth: S.authA).headers["X-Cache"], "HIT")
    }

    func testARedisThatHangsOrIsDownNeverDelaysAVerifiedMissByTheLease() throws {
        let redis = RedisMemoryServer()
        // The product's own command budget: a hung Redis costs a few ms per command, never the lease wait.
        let fleet = try InProcessFleet(pods: 1, redis: redis) { $0.redisCommandTimeoutMilliseconds = 5 }
        let pod = fleet.pods[0]
        pod.upstream.answer { request in
            S.ok(S.executionJSON(String(request.pathAndQuery.suffix(34)), status: "ended"))
        }
        _ = try pod.send(.get, S.path(S.execution(6)), auth: S.authA)  // verified
        for (number, outage) in [(7, { redis.pause() }), (8, { redis.stop() })] as [(Int, () -> Void)] {
            outage()
            let started = Date()
            let answer = try pod.send(.get, S.path(S.execution(number)), auth: S.authA)
            let elapsed = Date().timeIntervalSince(started)
            XCTAssertEqual(answer.status, 200)
            XCTAssertEqual(answer.headers["X-Cache"], "MISS")
            XCTAssertLessThan(elapsed, 0.5, "the upstream was asked without waiting for a lease (\(elapsed) s)")
        }
        XCTAssertEqual(pod.upstream.requests.count, 3)
    }

    func testAProofIsSharedPerKindOfResource() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let sid = S.execution(9)
        a.upstream.answer { request in
            request.pathAndQuery.hasSuffix("/Context")
                ? S.ok(S.contextJSON(sid)) : S.ok(S.executionJSON(sid, status: "ended"))
        }
        // A restricted key: Twilio lets it read executions, not contexts.
        b.upstream.answer { request in
            request.pathAndQuery.hasSuffix("/Context")
                ? S.twilioError(403, code: 20403) : S.ok(S.executionJSON(sid, status: "ended"))
        }
        _ = try a.send(.get, S.path(sid, "/Context"), auth: S.authA)  // the account's Context, in Redis
        _ = try a.send(.get, S.path(sid), auth: S.keyA)  // the key proven for executions, shared
        try waitUntil("the Context entry and both proofs are in Redis") {
            fleet.entryKeys.contains { $0.hasSuffix("/Context") } && fleet.proofKeys.count >= 2
        }
        XCTAssertEqual(try b.send(.get, S.path(sid), auth: S.keyA).headers["X-Cache-Level"], "L2")
        let context = try b.send(.get, S.path(sid, "/Context"), auth: S.keyA)
        XCTAssertEqual(context.status, 403, "a proof for executions is no proof for contexts on another pod")
        XCTAssertEqual(b.upstream.requests.map(\.pathAndQuery), [S.path(sid, "/Context")])
    }

    func testAnActiveEntryAdoptedFromRedisDoesNotMarkItsExecutionEnded() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let sid = S.execution(10)
        for pod in fleet.pods { pod.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "active")) } }
        _ = try a.send(.get, S.path(sid), auth: S.authA)
        try fleet.awaitShared(entries: 1)
        XCTAssertEqual(try b.send(.get, S.path(sid), auth: S.authA).headers["X-Cache-Level"], "L2")
        XCTAssertFalse(b.gateway.store.isEnded(SID(sid, prefix: "FN")))
        b.upstream.answer { _ in S.ok(S.contextJSON(sid)) }
        _ = try b.send(.get, S.path(sid, "/Context"), auth: S.authA)
        let context = try XCTUnwrap(b.gateway.store.entries { key, _ in key.resource.hasSuffix("/Context") }.first)
        XCTAssertFalse(context.1.isPermanent, "a child of an execution not known to have ended is short-lived")
    }

    func testPodsMissingTheSameKeyAtOnceMakeOneUpstreamCall() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let sid = S.execution(11)
        for pod in fleet.pods { pod.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) } }
        _ = try b.send(.get, S.path(S.execution(98)), auth: S.authA)  // B verified, so it reads through the fleet
        _ = try a.send(.get, S.path(S.execution(97)), auth: S.authA)
        a.upstream.hold()
        let leader = a.start(.get, S.path(sid), auth: S.authA)
        try waitUntil("pod A took the lease and asked the upstream") { a.upstream.heldCount == 1 }
        fleet.redis.resetCommandLog()
        let follower = b.start(.get, S.path(sid), auth: S.authA)
        try waitUntil("pod B lost the lease and looks again") {
            let log = fleet.redis.commandLog
            return log.contains("SET") && log.filter { $0 == "GET" }.count >= 2
        }
        a.upstream.release()
        XCTAssertEqual(try leader.answer().headers["X-Cache"], "MISS")
        XCTAssertEqual(try follower.answer().headers["X-Cache-Level"], "L2", "the lease holder's answer, from Redis")
        XCTAssertEqual(b.upstream.requests.filter { $0.pathAndQuery == S.path(sid) }.count, 0)
    }

    func testAnotherAccountNeverGetsAnEntryAndAMovedValueIsRefused() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let sid = S.execution(12)
        a.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) }
        b.upstream.answer { _ in S.ok(S.executionJSON(sid, account: S.accountB, status: "ended")) }
        _ = try a.send(.get, S.path(sid), auth: S.authA)
        try fleet.awaitShared(entries: 1)
        // Account B's pod asks for the same path: its own key, never account A's entry.
        _ = try b.send(.get, S.path(S.execution(96)), auth: S.authB)
        let other = try b.send(.get, S.path(sid), auth: S.authB)
        XCTAssertEqual(other.headers["X-Cache"], "MISS")
        XCTAssertTrue(String(decoding: other.body, as: UTF8.self).contains(S.accountB))
        // Account A's value copied under account B's key is refused (and deleted), never served.
        let names = FleetKeys(prefix: "studiogate:", naming: try DataKeys(parsing: InProcessFleet.dataKey).naming)
        let nameA = names.account(S.accountA)
        let keyA = try XCTUnwrap(fleet.entryKeys.first { $0.contains(nameA) && $0.hasSuffix(sid) })
        XCTAssertFalse(keyA.contains(S.accountA), "with a data key the account is a keyed name")
        let keyB = keyA.replacingOccurrences(of: nameA, with: names.account(S.accountB))
        // Pod B shares its own fetch after answering: that write must land before the test's.
        try waitUntil("pod B's own entry is in Redis") { fleet.entryKeys.contains(keyB) }
        fleet.redis.set(keyB, try XCTUnwrap(fleet.redis.value(of: keyA)))
        b.gateway.store.purge(PurgeScope(execution: SID(sid, prefix: "FN"), flow: nil, account: nil)!)
        let refused = try b.send(.get, S.path(sid), auth: S.authB)
        XCTAssertEqual(refused.headers["X-Cache"], "MISS")
        XCTAssertEqual(b.gateway.fleet?.refused.load(ordering: .relaxed), 1)
    }

    func testA401OnOnePodEndsTheCredentialsHitsOnTheOther() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let sid = S.execution(13)
        for pod in fleet.pods { pod.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) } }
        _ = try a.send(.get, S.path(sid), auth: S.authA)
        try fleet.awaitShared(entries: 1)
        XCTAssertEqual(try b.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "HIT")
        a.upstream.answer { _ in S.twilioError(401, code: 20003) }  // the token was revoked at Twilio
        XCTAssertEqual(try a.send(.get, S.path(S.execution(95)), auth: S.authA).status, 401)
        try waitUntil("pod B heard the revocation") { b.gateway.credentials.count == 0 }
        b.upstream.answer { _ in S.twilioError(401, code: 20003) }
        XCTAssertEqual(try b.send(.get, S.path(sid), auth: S.authA).status, 401, "no hit for a revoked credential")
    }
}
