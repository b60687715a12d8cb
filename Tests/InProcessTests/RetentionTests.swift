import Foundation
import HTTP
import Locking
import Studio
import Upstream
import XCTest

@testable import Gateway
@testable import TestSupport

/// Issue 27: nothing of an execution is answered, kept or shared past its `date_created` +
/// `--retention`, in process with the test's clock (the pods' wall clock is 1.8e9 + it).
final class RetentionTests: XCTestCase {
    typealias S = StudioBodies

    /// The Studio date of `secondsAgo` before the pod's wall clock now.
    static func created(_ gateway: InProcessGateway, secondsAgo: Double) -> String {
        let wallNow = gateway.gateway.wallClock()
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: (wallNow - secondsAgo).rounded(.down)))
    }

    static func executionJSON(
        _ sid: String, created: String, status: String = "ended",
        contact: String = "FC" + String(repeating: "1", count: 32),
        address: String = "+15550001111"
    ) -> String {
        let url = "https://studio.twilio.com/v2/Flows/\(S.flow)/Executions/\(sid)"
        return """
            {"sid": "\(sid)", "account_sid": "\(S.accountA)", "flow_sid": "\(S.flow)", "contact_sid": "\(contact)", \
            "contact_channel_address": "\(address)", "status": "\(status)", "date_created": "\(created)", \
            "url": "\(url)", "links": {"steps": "\(url)/Steps", "execution_context": "\(url)/Context"}}
            """
    }

    func testAnEndedExecutionIsAHitUntilItsRetentionBoundThenAMissAndDropped() throws {
        let gateway = try InProcessGateway { $0.retention = 60 }
        let sid = S.execution(1)
        let created = Self.created(gateway, secondsAgo: 55)
        gateway.upstream.answer { _ in S.ok(Self.executionJSON(sid, created: created)) }
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "HIT")
        gateway.advance(6)  // 61 s after date_created
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        XCTAssertEqual(gateway.gateway.store.stats.entries, 0, "the late copy was dropped, the fresh answer not kept")
        XCTAssertEqual(gateway.upstream.requests.count, 2)
    }

    func testAnAnswerAlreadyPastRetentionIsPassedThroughAndNeverStoredNorStale() throws {
        let gateway = try InProcessGateway { $0.retention = 60 }
        let sid = S.execution(2)
        let created = Self.created(gateway, secondsAgo: 61)
        let failing = Locked(false)
        gateway.upstream.answer { _ in
            failing.withLock { $0 } ? S.twilioError(503, code: 20503) : S.ok(Self.executionJSON(sid, created: created))
        }
        let first = try gateway.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(first.status, 200)
        XCTAssertTrue(String(decoding: first.body, as: UTF8.self).contains(sid))
        XCTAssertEqual(gateway.gateway.store.stats.entries, 0)
        failing.withLock { $0 = true }
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).status, 503, "nothing stale to answer")
    }

    func testChildrenFollowTheirExecutionsBoundEvenWhenOnlyAListPageTaughtIt() throws {
        let gateway = try InProcessGateway { $0.retention = 60 }
        let sid = S.execution(3)
        let created = Self.created(gateway, secondsAgo: 50)
        gateway.upstream.answer { request in
            if request.pathAndQuery.hasSuffix("/Context") { return S.ok(S.contextJSON(sid)) }
            if request.pathAndQuery.contains("/Steps") {
                return S.ok(#"{"steps": [], "meta": {"key": "steps", "page": 0, "page_size": 50}}"#)
            }
            return S.ok(S.listJSON([Self.executionJSON(sid, created: created)]))
        }
        let list = "/v2/Flows/\(S.flow)/Executions"
        XCTAssertEqual(try gateway.send(.get, list, auth: S.authA).status, 200)  // ended, created 50 s ago
        for child in ["/Context", "/Steps"] {
            XCTAssertEqual(try gateway.send(.get, S.path(sid, child), auth: S.authA).headers["X-Cache"], "MISS")
            XCTAssertEqual(try gateway.send(.get, S.path(sid, child), auth: S.authA).headers["X-Cache"], "HIT")
        }
        gateway.advance(9)
        XCTAssertEqual(try gateway.send(.get, S.path(sid, "/Context"), auth: S.authA).headers["X-Cache"], "HIT")
        gateway.advance(2)  // 61 s after date_created
        for child in ["/Context", "/Steps"] {
            XCTAssertEqual(
                try gateway.send(.get, S.path(sid, child), auth: S.authA).headers["X-Cache"], "MISS", child)
        }
        XCTAssertEqual(gateway.gateway.store.entries { key, _ in key.group.execution != nil }.count, 0)
    }

    func testAnExecutionOfUnknownAgeIsBoundedByWhenItWasStored() throws {
        let gateway = try InProcessGateway { $0.retention = 100 }
        let sid = S.execution(4)
        gateway.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) }
        _ = try gateway.send(.get, S.path(sid), auth: S.authA)
        gateway.advance(99)
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "HIT")
        gateway.advance(2)
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
    }

    func testTheSnapshotDropsWhatHasExpiredOnWriteAndOnRestore() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sg-retention-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gateway = try InProcessGateway {
            $0.retention = 60
            $0.stateDir = directory
        }
        let (young, old) = (S.execution(5), S.execution(6))
        let createdYoung = Self.created(gateway, secondsAgo: 10)
        let createdOld = Self.created(gateway, secondsAgo: 50)
        gateway.upstream.answer { request in
            let sid = request.pathAndQuery.hasSuffix(young) ? young : old
            return S.ok(Self.executionJSON(sid, created: sid == young ? createdYoung : createdOld))
        }
        _ = try gateway.send(.get, S.path(young), auth: S.authA)
        _ = try gateway.send(.get, S.path(old), auth: S.authA)
        gateway.advance(11)  // old is past its bound (61 s), young is not (21 s)
        XCTAssertEqual(gateway.gateway.writeSnapshot(), 1)
        let restarted = try InProcessGateway {
            $0.retention = 60
            $0.stateDir = directory
        }
        restarted.advance(11)
        XCTAssertEqual(restarted.gateway.restoreSnapshot()?.loaded, 1)
        let again = try InProcessGateway {
            $0.retention = 60
            $0.stateDir = directory
        }
        again.advance(51)  // 61 s after the young one's creation on the wall clock
        let report = try XCTUnwrap(again.gateway.restoreSnapshot())
        XCTAssertEqual(report.loaded, 0, "restart after expiry restores nothing")
        XCTAssertEqual(report.expired, 1)
    }
}
