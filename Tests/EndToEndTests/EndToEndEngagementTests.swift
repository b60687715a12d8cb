import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// The deprecated v1 Engagement API answered through Executions (the mock serves no Engagements).
final class EndToEndEngagementTests: XCTestCase {
    var harness: GatewayHarness!
    let flow = MockFixtures.flowA
    let ended = MockFixtures.endedExecutionA
    var engagements: String { "/v1/Flows/\(flow)/Engagements" }
    var gatewayOrigin: String { "http://127.0.0.1:\(harness.gateway.port)" }

    override func setUpWithError() throws { harness = try GatewayHarness() }
    override func tearDown() { harness?.stop() }

    func testEveryEngagementOperationIsTranslated() throws {
        let list = try harness.get("\(engagements)?PageSize=3")
        XCTAssertEqual(list.status, 200)
        let listJSON = try XCTUnwrap(list.json)
        XCTAssertNil(listJSON["executions"])
        let items = try XCTUnwrap(listJSON["engagements"] as? [[String: Any]])
        XCTAssertEqual(items.count, 3)
        let meta = try XCTUnwrap(listJSON["meta"] as? [String: Any])
        XCTAssertEqual(meta["key"] as? String, "engagements")
        let next = try XCTUnwrap(meta["next_page_url"] as? String)
        XCTAssertTrue(next.hasPrefix("\(gatewayOrigin)\(engagements)?"), next)
        XCTAssertTrue(next.contains("PageToken="))
        XCTAssertEqual(items[0]["url"] as? String, "\(gatewayOrigin)\(engagements)/\(items[0]["sid"] as! String)")

        // Following next_page_url goes through the gateway and lands on the next page.
        let nextPage = try harness.get(String(next.dropFirst(gatewayOrigin.count)))
        XCTAssertEqual(nextPage.status, 200)
        XCTAssertNotEqual(
            (nextPage.json?["engagements"] as? [[String: Any]])?.first?["sid"] as? String, items[0]["sid"] as? String)

        let fetched = try XCTUnwrap(harness.get("\(engagements)/\(ended)").json)
        XCTAssertEqual(fetched["url"] as? String, "\(gatewayOrigin)\(engagements)/\(ended)")
        XCTAssertEqual(
            fetched["links"] as? [String: String],
            [
                "steps": "\(gatewayOrigin)\(engagements)/\(ended)/Steps",
                "engagement_context": "\(gatewayOrigin)\(engagements)/\(ended)/Context",
            ])
        XCTAssertEqual(fetched["status"] as? String, "ended")

        let context = try XCTUnwrap(harness.get("\(engagements)/\(ended)/Context"))
        XCTAssertEqual(context.json?["engagement_sid"] as? String, ended)
        XCTAssertNil(context.json?["execution_sid"])
        XCTAssertTrue(context.text.contains(MockFixtures.trickyContext), "context bytes are untouched")

        let steps = try XCTUnwrap(harness.get("\(engagements)/\(ended)/Steps").json)
        XCTAssertEqual((steps["meta"] as? [String: Any])?["key"] as? String, "steps")
        let step = try XCTUnwrap((steps["steps"] as? [[String: Any]])?.first)
        let stepSID = try XCTUnwrap(step["sid"] as? String)
        XCTAssertEqual(step["engagement_sid"] as? String, ended)
        XCTAssertEqual(step["url"] as? String, "\(gatewayOrigin)\(engagements)/\(ended)/Steps/\(stepSID)")

        let stepFetch = try XCTUnwrap(harness.get("\(engagements)/\(ended)/Steps/\(stepSID)").json)
        XCTAssertEqual(stepFetch["engagement_sid"] as? String, ended)
        XCTAssertEqual(
            (stepFetch["links"] as? [String: String])?["step_context"],
            "\(gatewayOrigin)\(engagements)/\(ended)/Steps/\(stepSID)/Context")
        let stepContext = try XCTUnwrap(harness.get("\(engagements)/\(ended)/Steps/\(stepSID)/Context").json)
        XCTAssertEqual(stepContext["engagement_sid"] as? String, ended)
        XCTAssertEqual(stepContext["step_sid"] as? String, stepSID)

        let created = try harness.viaGateway(
            "POST", engagements, auth: GatewayHarness.authA,
            body: "To=%2B15550001111&From=%2B15550002222&Parameters=%7B%22a%22%3A%5B1%5D%7D")
        XCTAssertEqual(created.status, 200, "v1 create's status passes through")
        let newSID = try XCTUnwrap(created.json?["sid"] as? String)
        XCTAssertEqual(created.json?["url"] as? String, "\(gatewayOrigin)\(engagements)/\(newSID)")
        XCTAssertEqual(
            try harness.viaGateway("DELETE", "\(engagements)/\(newSID)", auth: GatewayHarness.authA).status, 204)
        let gone = try harness.get("\(engagements)/\(newSID)")
        XCTAssertEqual(gone.status, 404)
        XCTAssertEqual(gone.json?["code"] as? Int, 20404)
        XCTAssertEqual(
            try harness.control.count("/v1/Flows/\(flow)/Engagements"), 0, "nothing asks the upstream for Engagements")
    }

    func testEngagementAndExecutionViewsShareOneEntry() throws {
        let execution = try harness.get("/v1/Flows/\(flow)/Executions/\(ended)")
        let engagement = try harness.get("\(engagements)/\(ended)")
        XCTAssertEqual(engagement.header("X-Cache"), "HIT")
        XCTAssertEqual(try harness.control.count("/v1/Flows/\(flow)/Executions/\(ended)"), 1)
        XCTAssertNotNil(execution.json?["links"].flatMap { $0 as? [String: String] }?["execution_context"])
        XCTAssertEqual(
            try harness.get("/v1/Flows/\(flow)/Executions/\(ended)").text, execution.text,
            "the Execution view is unchanged by the Engagement one")
        XCTAssertEqual(
            try harness.get("\(engagements)/\(ended)", extraHeaders: "Accept-Encoding: gzip\r\n").header(
                "Content-Encoding"), "gzip")
    }

    func testEngagementErrorsPassThroughInTwilioForm() throws {
        let missing = try harness.get("\(engagements)/FN\(String(repeating: "9", count: 32))")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.json?["code"] as? Int, 20404)
        XCTAssertEqual(
            try harness.get(engagements, auth: RawClient.basicAuth(MockFixtures.accountA, "bad")).status, 401)
        XCTAssertEqual(
            try harness.viaGateway("POST", "\(engagements)/\(ended)", auth: GatewayHarness.authA, body: "Status=ended")
                .status, 405)
    }
}
