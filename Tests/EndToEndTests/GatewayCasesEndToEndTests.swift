import XCTest

@testable import TestSupport

/// `GatewayCases` end to end: the real `studiogate` in front of the real `mock-studio`.
final class GatewayCasesEndToEndTests: XCTestCase {
    var harness: GatewayHarness?

    override func tearDown() { harness?.stop() }

    func start(_ arguments: [String] = []) throws -> GatewayHarness {
        let started = try GatewayHarness(arguments)
        harness = started
        return started
    }

    func testEndedExecutionAndEverythingUnderItCostOneUpstreamCallEach() throws {
        try GatewayCases.endedExecutionAndEverythingUnderItCostOneUpstreamCallEach(start())
    }

    func testIsolationAcrossAccountsKeysAndRevokedCredentials() throws {
        try GatewayCases.isolationAcrossAccountsKeysAndRevokedCredentials(start(["--auth-ttl", "1"]))
    }
}
