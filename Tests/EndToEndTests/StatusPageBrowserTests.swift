import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// `GET /admin/` from the real gateway, rendered by headless Chromium: the figures a MISS and two
/// HITs just caused are in the DOM, a caller's `<script>` is text, and a screenshot is kept in
/// `.build/artefacts/status-page.png`.
///
/// The page needs the admin token and Chromium cannot send an `Authorization` header from its
/// command line, so the test fetches the page with the Bearer token itself and gives Chromium a
/// `file://` copy. The page loads nothing (no script, no external asset; its CSP says so), so the
/// copy renders exactly as the live page would. The other ways weaken the listener for a test: a
/// token in the query string ends up in shell history, proxies' logs and `Referer`; a login cookie
/// is a second credential and makes every POST (purge) a CSRF target.
final class StatusPageBrowserTests: XCTestCase {
    let token = "admin-token-status-page-0123456789"
    var harness: GatewayHarness!
    var bearer: String { "Bearer " + token }

    override func setUpWithError() throws {
        harness = try GatewayHarness(["--admin-listen", "127.0.0.1:0", "--admin-token", token])
    }

    override func tearDown() { harness?.stop() }

    func testChromiumRendersTheFiguresJustCausedAndKeepsAScreenshot() throws {
        let path = "/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA)"
        XCTAssertEqual(try harness.get(path).header("X-Cache"), "MISS")
        XCTAssertEqual(try harness.get(path).header("X-Cache"), "HIT")
        XCTAssertEqual(try harness.get(path).header("X-Cache"), "HIT")
        // An Engagement caller whose Basic user is markup: the report must show it as text.
        let hostile = RawClient.basicAuth("AC<script>alert('owned')</script>", "whatever")
        _ = try harness.viaGateway(
            "GET", "/v1/Flows/\(MockFixtures.flowA)/Engagements/\(MockFixtures.endedExecutionA)", auth: hostile,
            extraHeaders: "User-Agent: twilio-python/9.13.0 (Linux) <script>x()</script>\r\n")

        let admin = try XCTUnwrap(harness.gateway.adminPort)
        XCTAssertEqual(try GatewayHarness.send(admin, "GET", "/admin/", auth: nil).status, 401)
        let page = try GatewayHarness.send(admin, "GET", "/admin/", auth: bearer)
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        XCTAssertFalse(page.text.contains(token))
        XCTAssertFalse(page.text.contains(MockFixtures.tokenA), "no credential on the page")

        let artefacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../.build/artefacts"
        ).standardized
        try FileManager.default.createDirectory(at: artefacts, withIntermediateDirectories: true)
        let copy = artefacts.appendingPathComponent("status-page.html")
        try page.text.write(to: copy, atomically: true, encoding: .utf8)

        let dom = try HeadlessChromium.dumpDOM(copy)
        XCTAssertTrue(dom.contains(#"id="level-L1-hits">2</td>"#), "two HITs")
        // Looked up: the Execution's MISS and two HITs, and the Engagement's MISS.
        XCTAssertTrue(dom.contains(#"id="level-L1-lookups">4</td>"#))
        XCTAssertTrue(dom.contains(#"id="level-L1-ratio">50.0 %</td>"#))
        XCTAssertTrue(dom.contains(#"id="route-v2_execution-hits">2</td>"#))
        XCTAssertTrue(dom.contains(#"id="route-v2_execution-misses">1</td>"#))
        XCTAssertTrue(dom.contains(#"id="entries">"#))
        XCTAssertTrue(dom.contains(#"id="upstream-attempts">"#))
        XCTAssertTrue(dom.contains(#"id="engagement-requests">1</span>"#))
        XCTAssertTrue(dom.contains("<svg"), "the rate chart is inline")
        XCTAssertTrue(dom.contains("<title>StudioGate status</title>"), "no script renamed the page")
        XCTAssertFalse(dom.contains("<script"), "a caller's markup is never an element")
        XCTAssertTrue(dom.contains("AC&lt;script&gt;alert('owned')&lt;/script&gt;"))
        XCTAssertTrue(dom.contains("<code>twilio-python/9.13.0</code>"))
        XCTAssertTrue(dom.contains("<code>set</code>"), "the admin token shows as set")

        let png = artefacts.appendingPathComponent("status-page.png")
        try HeadlessChromium.screenshot(copy, to: png)
        let bytes = try Data(contentsOf: png)
        XCTAssertGreaterThan(bytes.count, 10_000)
        XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG")
        print("status page screenshot: \(png.path)")
    }
}
