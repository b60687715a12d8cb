import XCTest

@testable import Gateway
@testable import TestSupport

/// `GatewayCases` in process: the pipeline over the mock Studio's model, time moved by the test.
final class GatewayCasesInProcessTests: XCTestCase {
    func testEndedExecutionAndEverythingUnderItCostOneUpstreamCallEach() throws {
        try GatewayCases.endedExecutionAndEverythingUnderItCostOneUpstreamCallEach(InProcessMockGateway())
    }

    func testIsolationAcrossAccountsKeysAndRevokedCredentials() throws {
        try GatewayCases.isolationAcrossAccountsKeysAndRevokedCredentials(InProcessMockGateway { $0.authTTL = 1 })
    }
}
