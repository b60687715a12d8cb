import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// Every v1 Engagement operation through twilio-python 6.63 (the last SDK with them, from the venv
/// Tests/python/setup-venv-sdk6.sh makes), then the migration report it leaves:
/// Tests/python/engagements_sdk6.py checks `GET /admin/engagements` and
/// `studiogate_engagement_requests_total` against the requests it sent. Same venv rule as
/// PythonSDKTests: in CI it must exist; elsewhere it is made, or the test skipped without PyPI.
final class EngagementSDK6Tests: XCTestCase {
    static let adminToken = "engagement-admin-token-0123456789abcdef-0123"

    func testTheReportNamesEachSDK6CallerAndRoute() throws {
        let package = RunningBinary.packageDirectory
        let python = try PythonSDKTests.venvPython(
            package, venv: ".build/sdk-venv-6", setup: "Tests/python/setup-venv-sdk6.sh")
        let harness = try GatewayHarness(["--admin-listen", "127.0.0.1:0", "--admin-token", Self.adminToken])
        defer { harness.stop() }
        let admin = try XCTUnwrap(harness.gateway.adminPort)

        let (status, text) = try PythonSDKTests.run(
            python, [package.appendingPathComponent("Tests/python/engagements_sdk6.py").path], in: package,
            environment: [
                "GATEWAY_URL": "http://127.0.0.1:\(harness.gateway.port)",
                "ADMIN_URL": "http://127.0.0.1:\(admin)",
                "ADMIN_TOKEN": Self.adminToken,
                "MOCK_FIXTURES": MockFixtures.json,
            ])
        XCTAssertEqual(status, 0, "engagements_sdk6.py failed:\n\(text)")
        XCTAssertTrue(text.contains("engagement report matched every request sent"), text)
        XCTAssertTrue(text.contains("twilio-python/6.63."), text)
    }
}
