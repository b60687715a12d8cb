import Foundation
import HTTP
import Locking
import XCTest

@testable import Cache
@testable import Studio
@testable import TestSupport
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
