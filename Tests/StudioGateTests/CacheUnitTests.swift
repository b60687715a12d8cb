import Foundation
import HTTP
import Locking
import XCTest

@testable import Cache
@testable import Studio
@testable import Upstream

final class CachePolicyTests: XCTestCase {
    let policy = CachePolicy(activeTTL: 2, staleIfError: 60)

    func route(_ resource: StudioRoute.Resource) -> StudioRoute {
        let flow = SID("FW" + String(repeating: "a", count: 32), prefix: "FW")
        let execution =
            resource == .executionList || resource == .flowAdmin
            ? nil : SID("FN" + String(repeating: "b", count: 32), prefix: "FN")
        return StudioRoute(
            version: .v2, resource: resource, flow: flow, execution: execution, step: nil, allowedMethods: ["GET"],
            requestPath: "/")
    }

    func testEndedExecutionIsPermanentActiveIsShortLived() {
        XCTAssertEqual(
            policy.lifetime(
                route: route(.execution), status: 200, endedBeforeRequest: false, bodyStatus: "ended", now: 10),
            .permanent)
        XCTAssertEqual(
            policy.lifetime(
                route: route(.execution), status: 200, endedBeforeRequest: false, bodyStatus: "active", now: 10),
            .until(12))
        XCTAssertEqual(
            policy.lifetime(route: route(.execution), status: 200, endedBeforeRequest: true, bodyStatus: nil, now: 10),
            .until(12))
    }

    func testChildrenArePermanentOnlyWhenTheEndWasKnownBeforeTheRequest() {
        for resource in [StudioRoute.Resource.executionContext, .stepList, .step, .stepContext] {
            XCTAssertEqual(
                policy.lifetime(route: route(resource), status: 200, endedBeforeRequest: true, bodyStatus: nil, now: 0),
                .permanent)
            XCTAssertEqual(
                policy.lifetime(
                    route: route(resource), status: 200, endedBeforeRequest: false, bodyStatus: "ended", now: 0),
                .until(2))
        }
    }

    func testListsAreNeverPermanentAndErrorsAndAdminAreNeverCached() {
        XCTAssertEqual(
            policy.lifetime(
                route: route(.executionList), status: 200, endedBeforeRequest: true, bodyStatus: "ended", now: 5),
            .until(7))
        XCTAssertEqual(
            policy.lifetime(route: route(.flowAdmin), status: 200, endedBeforeRequest: true, bodyStatus: nil, now: 5),
            .notCached)
        for status in [201, 204, 401, 404, 429, 500] {
            XCTAssertEqual(
                policy.lifetime(
                    route: route(.execution), status: HTTPStatus(status), endedBeforeRequest: true, bodyStatus: "ended",
                    now: 0),
                .notCached)
        }
    }

    func testZeroTTLTurnsShortLivedCachingOff() {
        let off = CachePolicy(activeTTL: 0, staleIfError: 0)
        XCTAssertEqual(
            off.lifetime(route: route(.executionList), status: 200, endedBeforeRequest: false, bodyStatus: nil, now: 0),
            .notCached)
        XCTAssertEqual(
            off.lifetime(route: route(.execution), status: 200, endedBeforeRequest: false, bodyStatus: "ended", now: 0),
            .permanent)
    }

    func testStaleWindow() {
        let entry = CachedResponse(
            status: 200, contentType: nil, requestID: nil, gzipBody: [], identityLength: 0, account: "AC", storedAt: 0,
            expiresAt: 2)
        XCTAssertFalse(entry.isFresh(now: 2))
        XCTAssertTrue(policy.maySendStale(entry, now: 61))
        XCTAssertFalse(policy.maySendStale(entry, now: 62.5))
    }
}

final class CoalescingAndLimitTests: XCTestCase {
    func testOnlyTheFirstJoinerLeadsAndEveryoneGetsTheResult() {
        let coalescer = Coalescer<Int>()
        let received = Locked<[Int]>([])
        XCTAssertTrue(coalescer.join("k") { value in received.withLock { $0.append(value) } }.isLeader)
        for _ in 0..<9 {
            XCTAssertFalse(coalescer.join("k") { value in received.withLock { $0.append(value) } }.isLeader)
        }
        XCTAssertTrue(coalescer.join("other") { _ in }.isLeader)
        coalescer.complete("k", with: 42)
        XCTAssertEqual(received.withLock { $0 }, Array(repeating: 42, count: 10))
        XCTAssertTrue(coalescer.join("k") { _ in }.isLeader, "nothing is remembered after delivery")
    }

    func testTheWorkIsCancelledOnlyWhenTheLastCallerLeaves() {
        let coalescer = Coalescer<Int>()
        let cancelled = Locked(0)
        let received = Locked<[Int]>([])
        let leader = coalescer.join("k") { _ in XCTFail("the leader left") }
        let waiter = coalescer.join("k") { value in received.withLock { $0.append(value) } }
        coalescer.onAbandoned("k") { cancelled.withLock { $0 += 1 } }
        XCTAssertTrue(coalescer.leave("k", leader))
        XCTAssertEqual(cancelled.withLock { $0 }, 0, "one caller still waits")
        coalescer.complete("k", with: 7)
        XCTAssertEqual(received.withLock { $0 }, [7])
        XCTAssertFalse(coalescer.leave("k", waiter), "the result was already delivered")

        let alone = coalescer.join("j") { _ in XCTFail("nobody is left to answer") }
        coalescer.onAbandoned("j") { cancelled.withLock { $0 += 1 } }
        XCTAssertTrue(coalescer.leave("j", alone))
        XCTAssertEqual(cancelled.withLock { $0 }, 1)
        coalescer.complete("j", with: 1)
    }

    func testRetryableOutcomes() {
        XCTAssertTrue(UpstreamService.isRetryable(.success(UpstreamResponse(status: 429, headers: [:], body: []))))
        XCTAssertTrue(UpstreamService.isRetryable(.failure(.unreachable("reset"))))
        XCTAssertFalse(UpstreamService.isRetryable(.success(UpstreamResponse(status: 500, headers: [:], body: []))))
        XCTAssertFalse(UpstreamService.isRetryable(.failure(.timeout)))
        XCTAssertFalse(UpstreamService.isRetryable(.failure(.cancelled)))
        XCTAssertFalse(UpstreamService.isRetryable(.failure(.bodyTooLarge(limit: 1))))
    }
}

final class ExecutionFactsTests: XCTestCase {
    func testFactsFromBodies() {
        let execution = ExecutionFacts(
            body: Array(
                #"{"sid": "FN1", "account_sid": "ACa", "status": "ended", "context": {"big": 18446744073709551617, "status": "active"}}"#
                    .utf8))
        XCTAssertEqual(execution, ExecutionFacts(account: "ACa", status: "ended"))
        let list = ExecutionFacts(
            body: Array(
                #"{"meta": {}, "executions": [{"sid": "FN1", "account_sid": "ACa", "status": "ended"}, {"sid": "FN2", "account_sid": "ACa", "status": "active"}]}"#
                    .utf8))
        XCTAssertEqual(list?.account, "ACa")
        XCTAssertEqual(list?.items.map(\.sid), ["FN1", "FN2"])
        XCTAssertNil(ExecutionFacts(body: Array(#"{"meta": {}, "executions": []}"#.utf8))?.account)
        XCTAssertNil(
            ExecutionFacts(
                body: Array(
                    #"{"executions": [{"sid": "FN1", "account_sid": "ACa"}, {"sid": "FN2", "account_sid": "ACb"}]}"#
                        .utf8))?.account)
        XCTAssertNil(ExecutionFacts(body: Array("<html>".utf8)))
    }
}

final class SnapshotFileTests: XCTestCase {
    func sample(_ index: Int) -> (CacheKey, CachedResponse) {
        (
            CacheKey(account: "ACa", resource: "/v2/Flows/FW/Executions/FN\(index)", group: testGroup("FN\(index)")),
            CachedResponse(
                status: 200, contentType: "application/json", requestID: index % 2 == 0 ? "RQ\(index)" : nil,
                gzipBody: [UInt8](repeating: UInt8(index), count: 10 + index), identityLength: 99, account: "ACa",
                storedAt: 1, expiresAt: nil, engagementGzip: index == 1 ? [1, 2, 3] : nil)
        )
    }

    func testRoundTrip() {
        let entries = (0..<5).map(sample)
        let (restored, report) = SnapshotFile.decode(SnapshotFile.encode(entries), now: 42)
        XCTAssertEqual(report, SnapshotFile.LoadReport(loaded: 5))
        XCTAssertEqual(restored.map(\.0), entries.map(\.0))
        for ((_, a), (_, b)) in zip(restored, entries) {
            XCTAssertEqual(a.gzipBody, b.gzipBody)
            XCTAssertEqual(a.requestID, b.requestID)
            XCTAssertEqual(a.engagementGzip, b.engagementGzip)
            XCTAssertEqual(a.storedAt, 42)
            XCTAssertTrue(a.isPermanent)
        }
    }

    func testEveryDamageIsSurvived() {
        let bytes = SnapshotFile.encode((0..<5).map(sample))
        for cut in 0..<bytes.count {
            let (entries, report) = SnapshotFile.decode(Array(bytes.prefix(cut)), now: 0)
            XCTAssertLessThanOrEqual(entries.count, 5)
            XCTAssertEqual(report.loaded, entries.count)
        }
        for index in 0..<bytes.count {
            var damaged = bytes
            damaged[index] ^= 0x5A
            let (entries, _) = SnapshotFile.decode(damaged, now: 0)
            XCTAssertGreaterThanOrEqual(
                entries.count, index < 8 ? 0 : 4, "one flipped byte (at \(index)) loses at most one record")
        }
    }
}

final class InflatedBodiesTests: XCTestCase {
    func entry() -> CachedResponse {
        CachedResponse(
            status: 200, contentType: nil, requestID: nil, gzipBody: [1], identityLength: 100, account: "ACa",
            storedAt: 0, expiresAt: nil)
    }

    func testInflatesOncePerViewAndStaysWithinBudget() {
        let set = InflatedBodies(budget: 1600)
        let hot = entry()
        var inflations = 0
        for _ in 0..<5 {
            XCTAssertEqual(
                set.body(of: hot, engagementView: false) {
                    inflations += 1
                    return [UInt8](repeating: 7, count: 100)
                }.count, 100)
        }
        XCTAssertEqual(inflations, 1)
        _ = set.body(of: hot, engagementView: true) {
            inflations += 1
            return [UInt8](repeating: 8, count: 100)
        }
        XCTAssertEqual(inflations, 2, "the Engagement view is a different body")
        for _ in 0..<100 { _ = set.body(of: entry(), engagementView: false) { [UInt8](repeating: 1, count: 100) } }
        XCTAssertLessThanOrEqual(set.bytes, 1600)
        XCTAssertEqual(
            set.body(of: entry(), engagementView: false) { [UInt8](repeating: 1, count: 1000) }.count, 1000,
            "too large to keep, still answered")
    }
}
