import Foundation
import Locking
import MockStudio
import XCTest

@testable import TestSupport

/// The credential rules where a silent bug is a leak: proofs per account and kind of resource
/// (restricted API keys), coalescing that never hands one credential's answer to another, and
/// stale data only where policy allows. Each test kills a mutant named in docs/HARDENING.md.
final class EndToEndIsolationTests: XCTestCase {
    var harness: GatewayHarness!
    let flow = MockFixtures.flowA
    var executions: String { "/v2/Flows/\(flow)/Executions" }
    var ended: String { "\(executions)/\(MockFixtures.endedExecutionA)" }
    var active: String { "\(executions)/\(MockFixtures.activeExecutionA)" }
    let restrictedKey = RawClient.basicAuth(MockFixtures.restrictedKeyA, MockFixtures.restrictedKeySecretA)

    override func tearDown() { harness?.stop() }

    /// Sends each (auth, path) at once, in order, 50 ms apart; returns the answers in the same order.
    func concurrently(_ requests: [(auth: String, path: String)]) -> [RawClient.Response?] {
        timedConcurrently(requests).map(\.answer)
    }

    /// `concurrently`, with how long each answer took.
    func timedConcurrently(_ requests: [(auth: String, path: String)]) -> [(
        answer: RawClient.Response?, seconds: Double
    )] {
        let port = harness.gateway.port
        let answers = Locked<[Int: (RawClient.Response?, Double)]>([:])
        DispatchQueue.concurrentPerform(iterations: requests.count) { index in
            usleep(useconds_t(index * 50_000))
            let started = Date()
            let answer = try? GatewayHarness.send(port, "GET", requests[index].path, auth: requests[index].auth)
            answers.withLock { $0[index] = (answer, Date().timeIntervalSince(started)) }
        }
        return (0..<requests.count).map { index in answers.withLock { $0[index] ?? (nil, 0) } }
    }

    func testARestrictedKeyGetsNoHitOnWhatItMayNotRead() throws {
        harness = try GatewayHarness()
        XCTAssertEqual(try harness.get(ended + "/Context").header("X-Cache"), "MISS")
        XCTAssertEqual(try harness.get(ended + "/Context").header("X-Cache"), "HIT")
        // The key is proven for account A on executions...
        XCTAssertEqual(try harness.get(ended, auth: restrictedKey).status, 200)
        XCTAssertEqual(try harness.get(ended, auth: restrictedKey).header("X-Cache"), "HIT")
        // ...which says nothing about contexts: the upstream decides, every time.
        for _ in 0..<2 {
            let context = try harness.get(ended + "/Context", auth: restrictedKey)
            XCTAssertEqual(context.status, 403)
            XCTAssertNotEqual(context.header("X-Cache"), "HIT")
        }
        XCTAssertEqual(
            try harness.get(ended, auth: restrictedKey).header("X-Cache"), "HIT",
            "a 403 on contexts keeps the executions proof")
    }

    func testIdenticalConcurrentMissesFromTwoAccountsEachGetTheirOwnAnswer() throws {
        harness = try GatewayHarness()
        // Both verified for executions, each on its own account.
        XCTAssertEqual(try harness.get(active).status, 200)
        XCTAssertEqual(
            try harness.get(
                "/v2/Flows/\(MockFixtures.flowB)/Executions/\(MockFixtures.executionB)", auth: GatewayHarness.authB
            ).status, 200)
        try harness.control.fault(#"{"path_prefix": "\#(ended)", "delay_ms": 1000}"#)
        let answers = timedConcurrently([(GatewayHarness.authA, ended), (GatewayHarness.authB, ended)])
        XCTAssertEqual(answers[0].answer?.status, 200)
        XCTAssertEqual(answers[1].answer?.status, 404, "B never gets A's execution")
        XCTAssertLessThan(
            answers[1].seconds, 1.7,
            "B's miss runs beside A's, not after it (a key without the account would chain them)")
        XCTAssertEqual(try harness.control.count(ended), 2)
    }

    func testAnAccountAndAWrongTokenEachGetTheirOwnAnswer() throws {
        harness = try GatewayHarness()
        try harness.control.fault(#"{"path_prefix": "\#(ended)", "delay_ms": 400}"#)
        let answers = concurrently([
            (GatewayHarness.authA, ended), (RawClient.basicAuth(MockFixtures.accountA, "wrong"), ended),
        ])
        XCTAssertEqual(answers[0]?.status, 200)
        XCTAssertEqual(answers[1]?.status, 401)
    }

    func testALeadersRefusalIsNeverHandedToAnotherCredential() throws {
        harness = try GatewayHarness()
        let keyA = GatewayHarness.authKeyA
        for auth in [GatewayHarness.authA, keyA] { XCTAssertEqual(try harness.get(active, auth: auth).status, 200) }
        try harness.control.call("POST", "/__mock/accounts/\(MockFixtures.accountA)/rotate")  // the token is revoked
        try harness.control.fault(#"{"path_prefix": "\#(ended)", "delay_ms": 400}"#)
        let answers = concurrently([(GatewayHarness.authA, ended), (keyA, ended)])
        XCTAssertEqual(answers[0]?.status, 401, "the revoked token leads and meets its 401")
        XCTAssertEqual(answers[1]?.status, 200, "the key waited on the same miss, then asked for itself")
    }

    func testAnAccountCredentialWhoseAnswerNamesAnotherAccountIsNeitherProvenNorStored() throws {
        harness = try GatewayHarness()
        let foreign =
            #"{\"sid\": \"\#(MockFixtures.endedExecutionA)\", \"account_sid\": \"\#(MockFixtures.accountB)\", \"status\": \"ended\"}"#
        try harness.control.fault(
            #"{"path_prefix": "\#(ended)", "body": "\#(foreign)", "content_type": "application/json", "times": 2}"#)
        for _ in 0..<2 {
            let answer = try harness.get(ended)
            XCTAssertEqual(answer.status, 200)
            XCTAssertNotEqual(answer.header("X-Cache"), "HIT")
        }
        XCTAssertEqual(try harness.control.count(ended), 2, "an answer naming B is not A's to cache")
    }

    func testExpiredEntriesAreServedStaleOnlyFor429And5xx() throws {
        harness = try GatewayHarness(["--active-ttl", "0.3", "--stale-if-error", "60"])
        XCTAssertEqual(try harness.get(active).status, 200)
        Thread.sleep(forTimeInterval: 0.4)
        for (status, stale) in [(404, false), (500, true), (429, true), (401, false)] {
            try harness.control.call("DELETE", "/__mock/faults")
            try harness.control.fault(#"{"path_prefix": "\#(active)", "status": \#(status)}"#)
            let answer = try harness.get(active)
            XCTAssertEqual(answer.header("X-Cache") == "STALE", stale, "upstream \(status)")
            XCTAssertEqual(answer.status, stale ? 200 : status)
        }
    }
}
