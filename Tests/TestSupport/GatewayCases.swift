import Foundation
import MockStudio
import XCTest

/// Cases written once and run at two levels (`GatewayCasesInProcessTests`,
/// `GatewayCasesEndToEndTests`): what the gateway promises its callers, against the mock Studio's
/// fixtures, whichever way the gateway is run.
enum GatewayCases {
    static let flow = MockFixtures.flowA
    static let ended = MockFixtures.endedExecutionA
    static var executions: String { "/v2/Flows/\(flow)/Executions" }

    static func stepSID(_ gateway: GatewayUnderTest, of execution: String) throws -> String {
        let steps = try gateway.get("\(executions)/\(execution)/Steps").json?["steps"] as? [[String: Any]]
        return try XCTUnwrap(steps?.first?["sid"] as? String)
    }

    /// An ended execution and everything under it: one upstream call each, then hits for good.
    static func endedExecutionAndEverythingUnderItCostOneUpstreamCallEach(_ gateway: GatewayUnderTest) throws {
        let step = try stepSID(gateway, of: ended)
        let base = "\(executions)/\(ended)"
        for path in [
            base, "\(base)/Context", "\(base)/Steps", "\(base)/Steps/\(step)", "\(base)/Steps/\(step)/Context",
        ] {
            let before = try gateway.upstreamCount(path)
            var results: [String] = []
            for _ in 0..<20 {
                let response = try gateway.get(path)
                XCTAssertEqual(response.status, 200, path)
                results.append(response.header("X-Cache") ?? "-")
            }
            XCTAssertEqual(
                try gateway.upstreamCount(path) - before, path.hasSuffix("/Steps") ? 0 : 1,
                "20 fetches of \(path) must cost one upstream call (the Steps page was fetched for its SID)")
            XCTAssertEqual(Set(results.dropFirst()), ["HIT"], path)
        }
        // Still served after the active TTL: ended data is immutable.
        gateway.letTimePass(2.2)
        XCTAssertEqual(try gateway.get("\(base)/Context").header("X-Cache"), "HIT")
        XCTAssertEqual(try gateway.upstreamCount("\(base)/Context"), 1)
        let hit = try gateway.get(base)
        XCTAssertNotNil(hit.header("Age"))
        XCTAssertEqual(hit.header("Twilio-Request-Id")?.hasPrefix("RQ"), true)
    }

    /// Accounts, API keys and revoked credentials (the gateway runs with an auth TTL of 1 s).
    static func isolationAcrossAccountsKeysAndRevokedCredentials(_ gateway: GatewayUnderTest) throws {
        let pathA = "\(executions)/\(ended)/Context"
        let pathB = "/v2/Flows/\(MockFixtures.flowB)/Executions/\(MockFixtures.executionB)/Context"
        XCTAssertEqual(try gateway.get(pathA).header("X-Cache"), "MISS")
        XCTAssertEqual(try gateway.get(pathA).header("X-Cache"), "HIT")
        XCTAssertEqual(try gateway.get(pathB, auth: GatewayHarness.authB).status, 200)

        // B asks for A's cached path: the upstream decides (404), never the cache.
        for _ in 0..<3 {
            let foreign = try gateway.get(pathA, auth: GatewayHarness.authB)
            XCTAssertEqual(foreign.status, 404)
            XCTAssertNotEqual(foreign.header("X-Cache"), "HIT")
        }
        let foreignB = try gateway.get(pathB)
        XCTAssertEqual(foreignB.status, 404)
        XCTAssertFalse(foreignB.text.contains("account B only"))

        // A wrong token for A's account: 401 from the upstream every time (with Twilio's
        // challenge), never a hit.
        let wrong = RawClient.basicAuth(MockFixtures.accountA, "not-the-token")
        for _ in 0..<3 {
            let refused = try gateway.get(pathA, auth: wrong)
            XCTAssertEqual(refused.status, 401)
            XCTAssertEqual(refused.header("WWW-Authenticate"), #"Basic realm="Twilio API""#)
        }

        // An API key of A: verified by its first answer (account_sid), then it may hit.
        XCTAssertEqual(try gateway.get(pathA, auth: GatewayHarness.authKeyA).header("X-Cache"), "MISS")
        XCTAssertEqual(try gateway.get(pathA, auth: GatewayHarness.authKeyA).header("X-Cache"), "HIT")

        // Revoked: once the proof expires the upstream is asked again and its 401 stands.
        try gateway.mock("POST", "/__mock/keys/\(MockFixtures.apiKeyA)/revoke")
        try gateway.mock("POST", "/__mock/accounts/\(MockFixtures.accountA)/rotate")
        gateway.letTimePass(1.2)
        for auth in [GatewayHarness.authA, GatewayHarness.authKeyA] {
            let revoked = try gateway.get(pathA, auth: auth)
            XCTAssertEqual(revoked.status, 401)
            XCTAssertNotEqual(revoked.header("X-Cache"), "HIT")
        }
    }
}
