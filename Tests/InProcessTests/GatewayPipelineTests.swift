import Foundation
import HTTP
import Locking
import Studio
import Upstream
import XCTest

@testable import Gateway
@testable import TestSupport

/// The read and write paths in process (`InProcessGateway`): what is stored and for how long,
/// who may hit it, what a 401/403 forgets, when stale data answers, what coalesces and what
/// writes invalidate. Each test takes milliseconds.
final class GatewayPipelineTests: XCTestCase {
    typealias S = StudioBodies

    /// docs/SDKS.md: region and edge go in `--upstream`, not on the SDK's client; the regional
    /// host's absolute URLs (and Studio's own) are rewritten to the public URL like any.
    func testARegionalUpstreamsURLsAreRewrittenToThePublicURL() throws {
        let regional = "https://studio.dublin.ie1.twilio.com"
        let gateway = try InProcessGateway { config in
            config.upstream = regional
            config.publicURL = "http://studiogate.internal:8080"
        }
        let sid = S.execution(60)
        let list = "\(regional)/v2/Flows/\(S.flow)/Executions"
        gateway.upstream.answer { _ in
            S.ok(
                S.executionJSON(sid, status: "ended").replacingOccurrences(
                    of: "https://studio.twilio.com", with: regional
                )
                .replacingOccurrences(of: "}}", with: "}, \"meta\": {\"url\": \"\(list)?PageSize=50\"}}"))
        }
        let text = String(decoding: try gateway.send(.get, S.path(sid), auth: S.authA).body, as: UTF8.self)
        let ours = "http://studiogate.internal:8080/v2/Flows/\(S.flow)/Executions"
        XCTAssertTrue(text.contains("\"url\": \"\(ours)/\(sid)\""), text)
        XCTAssertTrue(text.contains("\"steps\": \"\(ours)/\(sid)/Steps\""), text)
        XCTAssertTrue(text.contains("\"url\": \"\(ours)?PageSize=50\""), text)
        XCTAssertFalse(text.contains("ie1"), text)
    }

    func testAnEndedExecutionIsFetchedOnceThenHitWithAge() throws {
        let gateway = try InProcessGateway()
        let sid = S.execution(1)
        gateway.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) }
        let miss = try gateway.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(miss.status, 200)
        XCTAssertEqual(miss.headers["X-Cache"], "MISS")
        XCTAssertNil(miss.headers["Age"])
        XCTAssertTrue(String(decoding: miss.body, as: UTF8.self).contains("\"url\": \"http://127.0.0.1:8080/v2/"))
        gateway.advance(200)
        let hit = try gateway.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(hit.headers["X-Cache"], "HIT")
        XCTAssertEqual(hit.headers["Age"], "200")
        XCTAssertEqual(hit.body, miss.body)
        XCTAssertEqual(hit.headers["Twilio-Request-Id"], "RQ1")
        XCTAssertEqual(gateway.upstream.requests.count, 1)
        XCTAssertEqual(gateway.upstream.requests.first?.pathAndQuery, S.path(sid))
    }

    func testAProofLastsTheAuthTTLThenTheUpstreamVerifiesAgain() throws {
        let gateway = try InProcessGateway { $0.authTTL = 300 }
        let sid = S.execution(20)
        gateway.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) }
        _ = try gateway.send(.get, S.path(sid), auth: S.authA)
        gateway.advance(299)
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "HIT")
        gateway.advance(2)
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "HIT")
        XCTAssertEqual(gateway.upstream.requests.count, 2)
    }

    func testActiveDataLivesForTheActiveTTLOnly() throws {
        let gateway = try InProcessGateway { $0.activeTTL = 2 }
        let sid = S.execution(2)
        gateway.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "active")) }
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        gateway.advance(1.5)
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "HIT")
        gateway.advance(1)
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        XCTAssertEqual(gateway.upstream.requests.count, 2)
    }

    func testAChildFetchedWhileActiveIsNotPromotedWhenTheExecutionEnds() throws {
        let gateway = try InProcessGateway { $0.activeTTL = 2 }
        let sid = S.execution(3)
        let status = Locked("active")
        gateway.upstream.answer { request in
            request.pathAndQuery.hasSuffix("/Context")
                ? S.ok(S.contextJSON(sid)) : S.ok(S.executionJSON(sid, status: status.withLock { $0 }))
        }
        _ = try gateway.send(.get, S.path(sid, "/Context"), auth: S.authA)  // while active
        status.withLock { $0 = "ended" }
        _ = try gateway.send(.get, S.path(sid), auth: S.authA)  // learns it ended
        gateway.advance(3)
        XCTAssertEqual(try gateway.send(.get, S.path(sid, "/Context"), auth: S.authA).headers["X-Cache"], "MISS")
        gateway.advance(200)  // fetched after the end was known: permanent
        XCTAssertEqual(try gateway.send(.get, S.path(sid, "/Context"), auth: S.authA).headers["X-Cache"], "HIT")
        XCTAssertEqual(gateway.upstream.requests.count, 3)
    }

    func testAnotherCredentialOfTheSameAccountMustBeVerifiedBeforeItHits() throws {
        let gateway = try InProcessGateway()
        let sid = S.execution(4)
        gateway.upstream.answer { request in
            request.headers["Authorization"] == S.authA2
                ? S.twilioError(401, code: 20003) : S.ok(S.executionJSON(sid, status: "ended"))
        }
        _ = try gateway.send(.get, S.path(sid), auth: S.authA)
        let guessed = try gateway.send(.get, S.path(sid), auth: S.authA2)
        XCTAssertEqual(guessed.status, 401)
        XCTAssertEqual(guessed.headers["X-Cache"], "MISS")
        XCTAssertEqual(guessed.headers["WWW-Authenticate"], #"Basic realm="Twilio API""#)
        XCTAssertEqual(gateway.upstream.requests.count, 2, "the unverified credential went upstream")
    }

    func testA401ForgetsTheCredentialAndAStaleEntryNeverAnswersIt() throws {
        let gateway = try InProcessGateway { $0.activeTTL = 2 }
        let (ended, active) = (S.execution(5), S.execution(6))
        let revoked = Locked(false)
        gateway.upstream.answer { request in
            if revoked.withLock({ $0 }) { return S.twilioError(401, code: 20003) }
            return S.ok(
                S.executionJSON(
                    request.pathAndQuery.hasSuffix(ended) ? ended : active,
                    status: request.pathAndQuery.hasSuffix(ended) ? "ended" : "active"))
        }
        _ = try gateway.send(.get, S.path(ended), auth: S.authA)
        _ = try gateway.send(.get, S.path(active), auth: S.authA)
        revoked.withLock { $0 = true }
        gateway.advance(3)  // the active entry expired but is within --stale-if-error
        XCTAssertEqual(
            try gateway.send(.get, S.path(active), auth: S.authA).status, 401,
            "a refusal is never covered by stale data")
        let afterRevocation = try gateway.send(.get, S.path(ended), auth: S.authA)
        XCTAssertEqual(afterRevocation.status, 401)
        XCTAssertEqual(afterRevocation.headers["X-Cache"], "MISS", "no hit for a forgotten credential")
    }

    func testA403ForgetsTheProofForThatKindOfResourceOnly() throws {
        let gateway = try InProcessGateway()
        let sid = S.execution(7)
        gateway.upstream.answer { request in
            request.pathAndQuery.hasSuffix("/Context")
                ? S.twilioError(403, code: 20403) : S.ok(S.executionJSON(sid, status: "ended"))
        }
        _ = try gateway.send(.get, S.path(sid), auth: S.keyA)
        XCTAssertEqual(try gateway.send(.get, S.path(sid, "/Context"), auth: S.keyA).status, 403)
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.keyA).headers["X-Cache"], "HIT")
        XCTAssertEqual(gateway.upstream.requests.count, 2)
    }

    func testAnAPIKeyBelongsToTheAccountItsAnswersNameAndNeverSeesAnotherAccountsEntries() throws {
        let gateway = try InProcessGateway()
        let sid = S.execution(8)
        gateway.upstream.answer { request in
            S.ok(
                S.executionJSON(
                    sid, account: request.headers["Authorization"] == S.authB ? S.accountB : S.accountA, status: "ended"
                ))
        }
        _ = try gateway.send(.get, S.path(sid), auth: S.keyA)
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.keyA).headers["X-Cache"], "HIT")
        let other = try gateway.send(.get, S.path(sid), auth: S.authB)
        XCTAssertEqual(other.headers["X-Cache"], "MISS")
        XCTAssertTrue(String(decoding: other.body, as: UTF8.self).contains(S.accountB))
        let accounts = gateway.gateway.store.entries { _, _ in true }.map(\.1.account).sorted()
        XCTAssertEqual(accounts, [S.accountA, S.accountB])
    }

    func testAnAccountCredentialWhoseAnswerNamesAnotherAccountIsNotProvenOrStored() throws {
        let gateway = try InProcessGateway()
        let sid = S.execution(9)
        gateway.upstream.answer { _ in S.ok(S.executionJSON(sid, account: S.accountB, status: "ended")) }
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
        XCTAssertEqual(gateway.gateway.store.stats.entries, 0)
    }

    func testStaleAnswersOnlyUpstreamFailuresWithinTheWindow() throws {
        let gateway = try InProcessGateway {
            $0.activeTTL = 2
            $0.staleIfError = 60
        }
        let sid = S.execution(10)
        let next = Locked<Result<UpstreamResponse, UpstreamFailure>>(S.ok(S.executionJSON(sid, status: "active")))
        gateway.upstream.answer { _ in next.withLock { $0 } }
        _ = try gateway.send(.get, S.path(sid), auth: S.authA)
        gateway.advance(10)
        for failure in [S.twilioError(503, code: 20503), S.twilioError(429, code: 20429), .failure(.timeout)] {
            next.withLock { $0 = failure }
            let answer = try gateway.send(.get, S.path(sid), auth: S.authA)
            XCTAssertEqual(answer.status, 200)
            XCTAssertEqual(answer.headers["X-Cache"], "STALE")
            XCTAssertEqual(answer.headers["Age"], "10")
        }
        next.withLock { $0 = S.twilioError(404, code: 20404) }
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).status, 404)
        next.withLock { $0 = .failure(.overloaded) }
        XCTAssertEqual(
            try gateway.send(.get, S.path(sid), auth: S.authA).status, 503, "a full queue is ours, not stale-worthy")
        gateway.advance(60)
        next.withLock { $0 = .failure(.timeout) }
        let late = try gateway.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(late.status, 504)
        XCTAssertEqual(late.headers["X-Cache"], "MISS")
        XCTAssertEqual(gateway.gateway.telemetry.total(.stale), 3)
    }

    func testAMalformedSuccessIsA502AndNothingIsStored() throws {
        let gateway = try InProcessGateway()
        gateway.upstream.answer { _ in
            .success(UpstreamResponse(status: 200, headers: ["Content-Type": "text/html"], body: Array("<html>".utf8)))
        }
        let answer = try gateway.send(.get, S.path(S.execution(11)), auth: S.authA)
        XCTAssertEqual(answer.status, 502)
        XCTAssertEqual(gateway.gateway.store.stats.entries, 0)
        XCTAssertEqual(gateway.gateway.credentials.count, 0, "an unreadable body proves nothing")
    }

    func testIdenticalMissesShareOneUpstreamCallAcrossLoops() throws {
        let gateway = try InProcessGateway(loops: 2)
        let sid = S.execution(12)
        gateway.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended")) }
        _ = try gateway.send(.get, S.path(S.execution(99)), auth: S.authA)  // verifies the credential
        gateway.upstream.hold()
        let clients = (0..<6).map { gateway.start(.get, S.path(sid), auth: S.authA, loop: $0 % 2) }
        try waitUntil { gateway.gateway.telemetry.total(.coalescedWaits) == 5 }
        XCTAssertEqual(gateway.upstream.heldCount, 1)
        gateway.upstream.release()
        for client in clients {
            let answer = try client.answer()
            XCTAssertEqual(answer.status, 200)
            XCTAssertEqual(answer.headers["X-Cache"], "MISS")
        }
        XCTAssertEqual(gateway.upstream.requests.count, 2)
    }

    func testALeadersRefusalIsNotHandedToAWaiterWithAnotherCredential() throws {
        let gateway = try InProcessGateway()
        let sid = S.execution(13)
        let revokedA = Locked(false)
        gateway.upstream.answer { request in
            if request.headers["Authorization"] == S.authA, revokedA.withLock({ $0 }) {
                return S.twilioError(401, code: 20003)
            }
            return S.ok(S.executionJSON(request.pathAndQuery.hasSuffix(sid) ? sid : S.execution(98), status: "active"))
        }
        for auth in [S.authA, S.authA2] { _ = try gateway.send(.get, S.path(S.execution(98)), auth: auth) }
        revokedA.withLock { $0 = true }
        gateway.upstream.hold()
        let leader = gateway.start(.get, S.path(sid), auth: S.authA)
        try waitUntil { gateway.upstream.heldCount == 1 }
        let waiter = gateway.start(.get, S.path(sid), auth: S.authA2)
        try waitUntil { gateway.gateway.telemetry.total(.coalescedWaits) == 1 }
        gateway.upstream.release()
        XCTAssertEqual(try leader.answer().status, 401)
        XCTAssertEqual(try waiter.answer().status, 200, "the waiter asked for itself")
        XCTAssertEqual(gateway.upstream.requests.count, 4)
    }

    func testTheLastClientToLeaveCancelsTheCall() throws {
        let gateway = try InProcessGateway()
        gateway.upstream.answer { _ in S.ok(S.executionJSON(S.execution(14), status: "ended")) }
        gateway.upstream.hold()
        let first = gateway.start(.get, S.path(S.execution(14)), auth: S.authA)
        try waitUntil { gateway.upstream.heldCount == 1 }
        let second = gateway.start(.get, S.path(S.execution(14)), auth: S.authA)
        try waitUntil { gateway.gateway.telemetry.total(.coalescedWaits) == 1 }
        first.leave()
        XCTAssertEqual(try first.answer().status, 499)
        XCTAssertEqual(gateway.upstream.cancelled, 0, "another client still waits")
        second.leave()
        XCTAssertEqual(try second.answer().status, 499)
        try waitUntil { gateway.upstream.cancelled == 1 }
    }

    func testWritesInvalidateWhatTheyOutdated() throws {
        let gateway = try InProcessGateway { $0.activeTTL = 60 }
        let sid = S.execution(15)
        let ended = Locked(false)
        gateway.upstream.answer { request in
            let status = ended.withLock { $0 } ? "ended" : "active"
            if request.pathAndQuery.hasSuffix("/Context") { return S.ok(S.contextJSON(sid)) }
            if request.pathAndQuery.hasSuffix("/Executions") {
                return S.ok(S.listJSON([S.executionJSON(sid, status: status)]))
            }
            if request.method == "POST" { ended.withLock { $0 = true } }
            if request.method == "DELETE" { return .success(UpstreamResponse(status: 204, headers: [:], body: [])) }
            return S.ok(S.executionJSON(sid, status: ended.withLock { $0 } ? "ended" : "active"))
        }
        let list = "/v2/Flows/\(S.flow)/Executions"
        for path in [list, S.path(sid), S.path(sid, "/Context")] { _ = try gateway.send(.get, path, auth: S.authA) }
        XCTAssertEqual(gateway.gateway.store.stats.entries, 3)
        let update = try gateway.send(.post, S.path(sid), auth: S.authA, body: "Status=ended")
        XCTAssertEqual(update.headers["X-Cache"], "BYPASS")
        // The list page and the short-lived Context went; the answer is stored as the fetch, permanent.
        XCTAssertEqual(gateway.gateway.store.stats.entries, 1)
        gateway.advance(200)
        let fetched = try gateway.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(fetched.headers["X-Cache"], "HIT")
        XCTAssertTrue(String(decoding: fetched.body, as: UTF8.self).contains(#""status": "ended""#))
        XCTAssertEqual(try gateway.send(.delete, S.path(sid), auth: S.authA).status, 204)
        XCTAssertEqual(gateway.gateway.store.stats.entries, 0)
        XCTAssertEqual(try gateway.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
    }

    func testAnEngagementMissMakesItsViewOnceAndTheExecutionViewSharesTheEntry() throws {
        let gateway = try InProcessGateway()
        let sid = S.execution(16)
        gateway.upstream.answer { _ in S.ok(S.executionJSON(sid, status: "ended", version: "v1")) }
        let engagement = "/v1/Flows/\(S.flow)/Engagements/\(sid)"
        let miss = try gateway.send(.get, engagement, auth: S.authA)
        let text = String(decoding: miss.body, as: UTF8.self)
        XCTAssertTrue(text.contains("/v1/Flows/\(S.flow)/Engagements/\(sid)\""), text)
        XCTAssertTrue(text.contains("engagement_context"), text)
        XCTAssertEqual(gateway.upstream.requests.first?.pathAndQuery, "/v1/Flows/\(S.flow)/Executions/\(sid)")
        let entry = try XCTUnwrap(gateway.gateway.store.entries { _, _ in true }.first?.1)
        XCTAssertNotNil(entry.engagementGzip, "the leader stored the view it made")
        let hit = try gateway.send(.get, engagement, auth: S.authA)
        XCTAssertEqual(hit.headers["X-Cache"], "HIT")
        XCTAssertEqual(hit.body, miss.body)
        let gzip = try gateway.send(.get, engagement, auth: S.authA, headers: ["Accept-Encoding": "gzip"])
        XCTAssertEqual(gzip.headers["Content-Encoding"], "gzip")
        let execution = try gateway.send(.get, S.path(sid, version: "v1"), auth: S.authA)
        XCTAssertEqual(execution.headers["X-Cache"], "HIT")
        XCTAssertTrue(String(decoding: execution.body, as: UTF8.self).contains("execution_context"))
        XCTAssertEqual(gateway.upstream.requests.count, 1)
    }

    func testRefusalsNeverReachTheUpstream() throws {
        let gateway = try InProcessGateway()
        XCTAssertEqual(try gateway.send(.get, S.path(S.execution(17)), auth: nil).status, 401)
        XCTAssertEqual(try gateway.send(.get, "/v2/Nope", auth: S.authA).status, 404)
        XCTAssertEqual(try gateway.send(.put, S.path(S.execution(17)), auth: S.authA).status, 405)
        XCTAssertEqual(try gateway.send(.get, "/v2/Flows/\(S.flow)/Executions/FNnot-a-sid", auth: S.authA).status, 404)
        XCTAssertEqual(gateway.upstream.requests.count, 0)
        XCTAssertEqual(gateway.gateway.telemetry.total(.bypass), 4)
    }

    /// Polls `condition` every millisecond for at most 5 s.
    private func waitUntil(_ condition: () -> Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let deadline = Date().addingTimeInterval(5)
        while !condition() {
            guard Date() < deadline else { return XCTFail("condition not met within 5 s", file: file, line: line) }
            usleep(1_000)
        }
    }
}
