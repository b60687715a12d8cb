import Foundation
import HTTP
import Locking
import Studio
import Upstream
import XCTest

@testable import Gateway
@testable import TestSupport

/// Issue 27 across a fleet: Redis never keeps an entry past its execution's retention bound, and
/// an erasure by contact on one pod reaches every pod and Redis.
final class FleetRetentionTests: XCTestCase {
    typealias S = StudioBodies
    typealias R = RetentionTests

    func testRedisNeverKeepsAnEntryPastItsRetentionBound() throws {
        let fleet = try InProcessFleet { $0.retention = 60 }
        let a = fleet.pods[0]
        let sid = S.execution(1)
        let created = R.created(a, secondsAgo: 45)
        a.upstream.answer { request in
            request.pathAndQuery.hasSuffix("/Context")
                ? S.ok(S.contextJSON(sid)) : S.ok(R.executionJSON(sid, created: created))
        }
        _ = try a.send(.get, S.path(sid), auth: S.authA)
        _ = try a.send(.get, S.path(sid, "/Context"), auth: S.authA)
        try waitUntil("both entries are in Redis") { fleet.entryKeys.count == 2 }
        for key in fleet.entryKeys {
            let ttl = fleet.redis.ttlMilliseconds(of: key)
            XCTAssertTrue(
                (1...15_000).contains(ttl), "PX is what is left of the bound (15 s), not 30 days: \(ttl) \(key)")
        }
    }

    func testAPurgeByContactOnOnePodMakesEveryPodFetchEachOfItsExecutionsAgain() throws {
        let fleet = try InProcessFleet()
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        let contact = "FC" + String(repeating: "7", count: 32)
        let (first, second, other) = (S.execution(2), S.execution(3), S.execution(4))
        let created = R.created(a, secondsAgo: 10)
        for pod in fleet.pods {
            pod.upstream.answer { request in
                let sid = [first, second, other].first { request.pathAndQuery.contains($0) }!
                let json =
                    sid == other
                    ? R.executionJSON(sid, created: created, contact: "FC" + String(repeating: "8", count: 32))
                    : R.executionJSON(sid, created: created, contact: contact)
                return request.pathAndQuery.hasSuffix("/Context") ? S.ok(S.contextJSON(sid)) : S.ok(json)
            }
        }
        // A learns the first execution, B the second (A never sees it): the index in Redis joins them.
        _ = try a.send(.get, S.path(first), auth: S.authA)
        _ = try a.send(.get, S.path(first, "/Context"), auth: S.authA)
        _ = try b.send(.get, S.path(second), auth: S.authA)
        _ = try a.send(.get, S.path(other), auth: S.authA)
        _ = try b.send(.get, S.path(other), auth: S.authA)
        try waitUntil("the entries are in Redis") { fleet.entryKeys.count == 4 }
        try waitUntil("the contact index lists both") {
            fleet.redis.keys().filter { $0.contains("{c:") }.contains { fleet.redis.members(of: $0)?.count == 2 }
        }
        XCTAssertFalse(
            fleet.redis.keys().contains { $0.contains(contact) || $0.contains("15550001111") },
            "the index is named by a keyed name, never the contact or the address")
        XCTAssertEqual(try b.send(.get, S.path(first), auth: S.authA).headers["X-Cache"], "HIT")  // B holds it too
        let answer = try purge(on: a, "contact=\(contact)")
        XCTAssertEqual(answer.status, 200)
        try waitUntil("pod B dropped its copies") {
            b.gateway.store.entries { key, _ in
                key.group.execution?.value == first || key.group.execution?.value == second
            }
            .isEmpty
        }
        XCTAssertEqual(fleet.entryKeys.filter { $0.contains(first) || $0.contains(second) }, [])
        XCTAssertTrue(
            a.gateway.store.entries { key, _ in key.group.execution?.value == first }.isEmpty, "pod A dropped its own")
        // Nothing of them is left anywhere: whichever pod asks first fetches each from the upstream
        // (and shares it again: the other pod then gets it from the fleet, not from what it held).
        let before = (a.upstream.requests.count, b.upstream.requests.count)
        for (pod, sid) in [(b, first), (a, second)] {
            XCTAssertEqual(try pod.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS", sid)
        }
        XCTAssertEqual(a.upstream.requests.count - before.0, 1)
        XCTAssertEqual(b.upstream.requests.count - before.1, 1)
        for pod in [a, b] {
            XCTAssertEqual(
                try pod.send(.get, S.path(other), auth: S.authA).headers["X-Cache"], "HIT", "another contact")
        }
        XCTAssertEqual(
            try a.send(.get, S.path(first, "/Context"), auth: S.authA).headers["X-Cache"], "MISS",
            "children go with their execution")
    }

    func testAPurgeByAddressFindsTheContactsExecutions() throws {
        let gateway = try InProcessGateway()
        let sid = S.execution(5)
        let created = R.created(gateway, secondsAgo: 10)
        gateway.upstream.answer { _ in S.ok(R.executionJSON(sid, created: created, address: "+15557654321")) }
        _ = try gateway.send(.get, S.path(sid), auth: S.authA)
        let admin = AdminHandler(gateway: gateway.gateway, token: nil)
        let wrong = admin.answer(
            HTTPRequest(method: "POST", target: "/admin/purge?address=%2B15550000000", headers: ["Host": "x"]))
        XCTAssertTrue(String(decoding: wrong.body, as: UTF8.self).contains(#""purged": 0"#))
        let right = admin.answer(
            HTTPRequest(method: "POST", target: "/admin/purge?address=+15557654321", headers: ["Host": "x"]))
        XCTAssertTrue(String(decoding: right.body, as: UTF8.self).contains(#""purged": 1"#), "a bare + is read as one")
        XCTAssertEqual(
            admin.answer(HTTPRequest(method: "POST", target: "/admin/purge?contact=FCnope", headers: ["Host": "x"]))
                .status, 400)
    }

    /// The admin purge on `pod`'s loop, fleet-wide, answered once Redis has.
    func purge(on pod: InProcessGateway, _ query: String) throws -> HTTPResponse {
        let admin = AdminHandler(gateway: pod.gateway, token: nil)
        let answer = Locked<HTTPResponse?>(nil)
        let loop = pod.group.loops[0]
        loop.execute {
            admin.answer(HTTPRequest(method: "POST", target: "/admin/purge?" + query, headers: ["Host": "x"]), on: loop)
            {
                response in answer.withLock { $0 = response }
            }
        }
        try waitUntil("the purge answered") { answer.withLock { $0 } != nil }
        return answer.withLock { $0 }!
    }
}
