import Auth
import Cache
import Foundation
import HTTP
import Locking
import Studio
import Upstream
import XCTest

@testable import Fleet
@testable import Gateway
@testable import Sealing
@testable import TestSupport

/// The fleet's sealing rules with pods in process over `RedisMemoryServer`: what Redis holds with
/// and without a data key, what a rotation keeps, what a value written in clear or for another
/// key gets, whether proofs travel, and a purge reaching Redis and every pod.
final class FleetSealingInProcessTests: XCTestCase {
    typealias S = StudioBodies

    /// Every key, value and set member Redis holds, as one byte string.
    func everything(_ redis: RedisMemoryServer) -> [UInt8] {
        var bytes: [UInt8] = []
        for key in redis.keys() {
            bytes += Array(key.utf8)
            bytes += redis.value(of: key) ?? []
            bytes += Array((redis.members(of: key) ?? []).joined().utf8)
        }
        return bytes
    }

    func testWithADataKeyRedisHoldsNothingReadable() throws {
        let fleet = try InProcessFleet()
        let a = fleet.pods[0]
        let sid = S.execution(20)
        a.upstream.answer { request in
            request.pathAndQuery.hasSuffix("/Context")
                ? S.ok(S.contextJSON(sid)) : S.ok(S.executionJSON(sid, status: "ended"))
        }
        _ = try a.send(.get, S.path(sid), auth: S.authA)
        _ = try a.send(.get, S.path(sid, "/Context"), auth: S.authA)
        try waitUntil("both entries and the proofs are in Redis") {
            fleet.entryKeys.count == 2 && fleet.redis.keys().filter { $0.contains("{p:") }.count == 2
        }
        let stored = everything(fleet.redis)
        for clear in [
            S.accountA, "execution_sid", "untouched", "account_sid",
            CredentialBook.digest(authorization: S.authA).description,
        ] {
            XCTAssertNil(stored.firstRange(of: Array(clear.utf8)), "Redis holds \(clear) in clear")
        }
    }

    func testAValueWrittenInClearOrForAnotherKeyIsRefusedWhenTheFleetSeals() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let (sid, other) = (S.execution(21), S.execution(22))
        for pod in fleet.pods {
            pod.upstream.answer { request in
                S.ok(S.executionJSON(request.pathAndQuery.hasSuffix(sid) ? sid : other, status: "ended"))
            }
        }
        _ = try a.send(.get, S.path(sid), auth: S.authA)
        _ = try a.send(.get, S.path(other), auth: S.authA)
        try fleet.awaitShared(entries: 2)
        let key = try XCTUnwrap(fleet.entryKeys.first { $0.hasSuffix(sid) })
        let otherKey = try XCTUnwrap(fleet.entryKeys.first { $0.hasSuffix(other) })
        // The other execution's sealed value moved under this key: it does not open here.
        fleet.redis.set(key, try XCTUnwrap(fleet.redis.value(of: otherKey)))
        let moved = try b.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(moved.headers["X-Cache"], "MISS")
        XCTAssertTrue(String(decoding: moved.body, as: UTF8.self).contains(sid))
        // A value in the codec's clear form, as a pod without the key would write it.
        let plain = FleetEntryCodec.encode(
            CachedResponse(
                status: 200, contentType: "application/json", requestID: nil, gzipBody: nil,
                identityBody: Array(#"{"planted": true}"#.utf8), identityLength: 17, account: S.accountA,
                storedAt: 1_000, expiresAt: nil),
            monotonicNow: 1_000, wallNow: 1_800_001_000)
        fleet.redis.set(otherKey, plain)
        b.gateway.store.purge(PurgeScope(execution: SID(other, prefix: "FN"), flow: nil, account: nil)!)
        let planted = try b.send(.get, S.path(other), auth: S.authA)
        XCTAssertEqual(planted.headers["X-Cache"], "MISS", "a value in clear does not open")
        XCTAssertFalse(String(decoding: planted.body, as: UTF8.self).contains("planted"))
        XCTAssertEqual(b.gateway.fleet?.refused.load(ordering: .relaxed), 2)
    }

    func testARotationKeepsEverySecondLevelHit() throws {
        let redis = RedisMemoryServer()
        let old = try InProcessFleet(pods: 1, redis: redis)
        let newKey = String(repeating: "c3", count: 32)
        let rotated = try InProcessFleet(pods: 1, redis: redis) { $0.dataKey = "\(newKey),\(InProcessFleet.dataKey)" }
        let sid = S.execution(23)
        old.pods[0].upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) }
        _ = try old.pods[0].send(.get, S.path(sid), auth: S.authA)
        try old.awaitShared(entries: 1)
        let hit = try rotated.pods[0].send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(hit.headers["X-Cache-Level"], "L2", "the old key's proof and entry open; names did not move")
        XCTAssertEqual(rotated.pods[0].upstream.requests.count, 0)
        // What the rotated pod writes is sealed with the new key.
        rotated.pods[0].upstream.answer { _ in S.ok(S.executionJSON(S.execution(24), status: "ended")) }
        _ = try rotated.pods[0].send(.get, S.path(S.execution(24)), auth: S.authA)
        // The entry's key, not its fill lease's (`:l:`, one byte, there while the fill runs).
        let isEntry = { (key: String) in key.contains(":e:") && key.hasSuffix(S.execution(24)) }
        try waitUntil("the new entry is in Redis") { redis.keys().contains(where: isEntry) }
        let value = try XCTUnwrap(redis.value(of: try XCTUnwrap(redis.keys().first(where: isEntry))))
        XCTAssertEqual(Array(value[1..<5]), DataKey(try hexBytes(newKey)).fingerprint)
    }

    func testWithoutADataKeyProofsStayOnTheirPodAndEntriesAreSharedInClear() throws {
        let fleet = try InProcessFleet { $0.dataKey = nil }
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let sid = S.execution(25)
        for pod in fleet.pods { pod.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) } }
        _ = try a.send(.get, S.path(sid), auth: S.authA)
        try waitUntil("the entry is in Redis") { fleet.entryKeys.count == 1 }
        XCTAssertTrue(fleet.redis.keys().allSatisfy { !$0.contains("{p:") && !$0.contains("proof") }, "no proof shared")
        XCTAssertNotNil(everything(fleet.redis).firstRange(of: Array(S.accountA.utf8)), "in clear, as documented")
        XCTAssertEqual(try b.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS", "B verifies for itself")
        XCTAssertEqual(b.upstream.requests.count, 1)
        _ = try b.send(.get, S.path(S.execution(26)), auth: S.authA)  // proven on B now
        a.upstream.answer { _ in S.ok(S.executionJSON(S.execution(27), status: "ended")) }
        _ = try a.send(.get, S.path(S.execution(27)), auth: S.authA)
        try waitUntil("the entry is in Redis") { fleet.entryKeys.contains { $0.hasSuffix(S.execution(27)) } }
        XCTAssertEqual(try b.send(.get, S.path(S.execution(27)), auth: S.authA).headers["X-Cache-Level"], "L2")
    }

    func testAPurgeOnOnePodReachesRedisAndTheOtherPod() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let (sid, kept) = (S.execution(28), S.execution(29))
        for pod in fleet.pods {
            pod.upstream.answer { request in
                if request.pathAndQuery.hasSuffix("/Context") { return S.ok(S.contextJSON(sid)) }
                return S.ok(S.executionJSON(request.pathAndQuery.hasSuffix(kept) ? kept : sid, status: "ended"))
            }
        }
        for path in [S.path(sid), S.path(sid, "/Context"), S.path(kept)] { _ = try a.send(.get, path, auth: S.authA) }
        try fleet.awaitShared(entries: 3)
        for path in [S.path(sid), S.path(sid, "/Context"), S.path(kept)] {
            XCTAssertEqual(try b.send(.get, path, auth: S.authA).headers["X-Cache-Level"], "L2")
        }
        let admin = AdminHandler(gateway: a.gateway, token: nil)
        let answered = Locked<HTTPResponse?>(nil)
        let loop = a.group.loops[0]
        a.onLoop {
            admin.answer(HTTPRequest(method: .post, target: "/admin/purge?execution=\(sid)"), on: loop) {
                response in answered.withLock { $0 = response }
            }
        }
        try waitUntil("the purge answered") { answered.withLock { $0 != nil } }
        let body = String(decoding: answered.withLock { $0!.body }, as: UTF8.self)
        XCTAssertTrue(body.contains(#""purged": 2"#) && body.contains(#""redis_purged": 2"#), body)
        XCTAssertEqual(fleet.entryKeys.count, 1, "only the other execution's entry is left in Redis")
        try waitUntil("pod B dropped its copies") { b.gateway.store.stats.entries == 1 }
        XCTAssertEqual(try b.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        XCTAssertEqual(try b.send(.get, S.path(kept), auth: S.authA).headers["X-Cache"], "HIT")
    }

    private func hexBytes(_ hex: String) throws -> [UInt8] {
        let keys = try DataKeys(parsing: hex)
        return keys.sealing.bytes
    }
}
