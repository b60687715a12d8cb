import Foundation
import Studio
import XCTest

@testable import MockStudio
@testable import TestSupport

final class StudioJSONRewriterTests: XCTestCase {
    let toGateway = URLRewrite(
        fromOrigins: ["https://studio.twilio.com", "http://127.0.0.1:9999"], toOrigin: "http://gw.local:8080")
    let engagement = URLRewrite(
        fromOrigins: ["http://gw.local:8080"], toOrigin: "http://gw.local:8080", engagementView: true)

    func rewrite(_ text: String, _ rules: URLRewrite) throws -> String {
        String(decoding: try XCTUnwrap(StudioJSONRewriter.rewrite(Array(text.utf8), rules)), as: UTF8.self)
    }

    var endedExecution: MockExecution {
        MockFixtures.seed().executions[MockFixtures.endedExecutionA]!
    }

    func testURLsAreRewrittenAndTheTrickyContextIsCopiedByteForByte() throws {
        let body = MockRender.execution(endedExecution, version: "v2")
        let out = try rewrite(body, toGateway)
        XCTAssertTrue(out.contains(MockFixtures.trickyContext), "context bytes must survive unchanged")
        XCTAssertTrue(
            out.contains(
                #""url": "http://gw.local:8080/v2/Flows/\#(MockFixtures.flowA)/Executions/\#(MockFixtures.endedExecutionA)""#
            ))
        XCTAssertTrue(out.contains(#""steps": "http://gw.local:8080/v2/Flows/"#))
        XCTAssertTrue(out.contains(#""execution_context": "http://gw.local:8080/v2/Flows/"#))
        // Exactly the three URLs changed: same text once the origin is put back.
        XCTAssertEqual(out.replacingOccurrences(of: "http://gw.local:8080", with: "https://studio.twilio.com"), body)
    }

    func testNothingTargetedMeansIdenticalBytes() throws {
        let bodies = [
            #"{"context": \#(MockFixtures.trickyContext)}"#,
            #"{"code": 20404, "message": "The requested resource /v2/Flows was not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}"#,
            "{ \"a\" :\t[1 , 2.50, -0.0, 1E+3, true,false ,null, \"\\u00e9\\ud83d\\ude00\\/\"] ,\n\"url\": null }",
            #"{"url": "https://example.com/v2/Flows", "links": {"other": "https://studio.twilio.com.evil.com/x"}}"#,
        ]
        for body in bodies { XCTAssertEqual(try rewrite(body, toGateway), body) }
    }

    func testPagingURLsKeepTheirQuery() throws {
        let page =
            #"{"meta": {"key": "executions", "url": "https://studio.twilio.com/v1/Flows/FW00000000000000000000000000000001/Executions?PageSize=2&Page=0", "next_page_url": "https://studio.twilio.com/v1/Flows/FW00000000000000000000000000000001/Executions?PageSize=2&Page=1&PageToken=PAFN1", "previous_page_url": null, "page": 0}, "executions": [{"sid": "FN1", "url": "https://studio.twilio.com/v1/x", "context": {"url": "https://studio.twilio.com/keep"}, "links": {"steps": "http://127.0.0.1:9999/v1/y"}}]}"#
        let out = try rewrite(page, toGateway)
        XCTAssertTrue(
            out.contains(
                #""next_page_url": "http://gw.local:8080/v1/Flows/FW00000000000000000000000000000001/Executions?PageSize=2&Page=1&PageToken=PAFN1""#
            ))
        XCTAssertTrue(out.contains(#""previous_page_url": null"#))
        XCTAssertTrue(out.contains(#""url": "http://gw.local:8080/v1/x""#))
        XCTAssertTrue(out.contains(#""steps": "http://gw.local:8080/v1/y""#))
        XCTAssertTrue(out.contains(#"{"url": "https://studio.twilio.com/keep"}"#), "user data is never touched")
    }

    func testEngagementViewFollowsTheMappingTable() throws {
        let flow = MockFixtures.flowA
        let execution = endedExecution
        let fetched = try rewrite(try rewrite(MockRender.execution(execution, version: "v1"), toGateway), engagement)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(fetched.utf8)) as? [String: Any])
        XCTAssertEqual(object["url"] as? String, "http://gw.local:8080/v1/Flows/\(flow)/Engagements/\(execution.sid)")
        let links = try XCTUnwrap(object["links"] as? [String: String])
        XCTAssertEqual(
            links,
            [
                "steps": "http://gw.local:8080/v1/Flows/\(flow)/Engagements/\(execution.sid)/Steps",
                "engagement_context": "http://gw.local:8080/v1/Flows/\(flow)/Engagements/\(execution.sid)/Context",
            ])
        XCTAssertTrue(fetched.contains(MockFixtures.trickyContext))
        XCTAssertTrue(
            fetched.contains(#""execution_sid":"FN00000000000000000000000000000000""#),
            "keys inside context are user data")

        let context = try rewrite(
            try rewrite(MockRender.executionContext(execution, version: "v1"), toGateway), engagement)
        XCTAssertTrue(context.contains(#""engagement_sid": "\#(execution.sid)""#))
        XCTAssertFalse(context.contains(#""execution_sid": "\#(execution.sid)""#))

        let step = execution.steps[1]
        let stepBody = try rewrite(
            try rewrite(MockRender.step(step, of: execution, version: "v1"), toGateway), engagement)
        XCTAssertTrue(stepBody.contains(#""engagement_sid": "\#(execution.sid)""#))
        XCTAssertTrue(
            stepBody.contains(
                #""step_context": "http://gw.local:8080/v1/Flows/\#(flow)/Engagements/\#(execution.sid)/Steps/\#(step.sid)/Context""#
            ))
        XCTAssertTrue(stepBody.contains(step.context), "step context is user data")

        let list = MockRender.page(
            key: "executions", path: "/v1/Flows/\(flow)/Executions", filters: [],
            items: [MockRender.execution(execution, version: "v1")],
            page: 0, pageSize: 1, nextToken: "PA\(execution.sid)", previousToken: nil)
        let listBody = try rewrite(try rewrite(list, toGateway), engagement)
        let listObject = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(listBody.utf8)) as? [String: Any])
        XCTAssertNotNil(listObject["engagements"])
        XCTAssertNil(listObject["executions"])
        let meta = try XCTUnwrap(listObject["meta"] as? [String: Any])
        XCTAssertEqual(meta["key"] as? String, "engagements")
        XCTAssertEqual(
            meta["next_page_url"] as? String,
            "http://gw.local:8080/v1/Flows/\(flow)/Engagements?PageSize=1&Page=1&PageToken=PA\(execution.sid)")
        XCTAssertLessThan(
            listBody.range(of: "\"meta\"")!.lowerBound, listBody.range(of: "\"engagements\"")!.lowerBound,
            "member order is kept")
    }

    func testMalformedBodiesAreRefused() {
        for body in [
            "", "[]", "{", #"{"a": }"#, #"{"a": 1,}"#, #"{"a": "unterminated}"#, #"{"a": 1} trailing"#,
            "{\"a\": \"raw\u{1}control\"}", "<html></html>",
            // Invalid escapes (json-rewriter fuzz target, crash-cbd729b5…): refused, never "repaired".
            #"{"url": "https://studio.twilio.com/v2\u-twi"}"#, #"{"url": "https://studio.twilio.com/\u+abc"}"#,
            #"{"a": "\x41"}"#, #"{"a": "\u12"}"#, #"{"a": "ends with \"#,
        ] {
            XCTAssertNil(StudioJSONRewriter.rewrite(Array(body.utf8), toGateway), body)
        }
    }

    func testSchemesMatchCaseInsensitivelyAndValidEscapesSurvive() throws {
        let out = try rewrite(#"{"url": "HttpS://studio.twilio.com/v2/Flows?x=\u00e9\n\/\b"}"#, toGateway)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        XCTAssertEqual(object["url"] as? String, "http://gw.local:8080/v2/Flows?x=\u{e9}\n/\u{8}")
    }

    /// Random valid JSON with our members scattered at every depth: only the targeted members
    /// change, and (origins put back) the bytes are identical.
    func testRandomDocumentsChangeOnlyTargetedMembers() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<400 {
            let body = randomDocument(using: &generator)
            let out = try XCTUnwrap(StudioJSONRewriter.rewrite(Array(body.utf8), toGateway), body)
            let text = String(decoding: out, as: UTF8.self)
            XCTAssertEqual(
                text.replacingOccurrences(of: "http://gw.local:8080", with: "https://studio.twilio.com"), body)
            let before = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            let after = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out)) as? [String: Any])
            for (key, value) in before where !["url", "links", "meta"].contains(key) && !(value is [Any]) {
                XCTAssertEqual(after[key] as? NSObject, value as? NSObject, "member \(key) must not change")
            }
        }
    }

    func randomDocument(using generator: inout SystemRandomNumberGenerator) -> String {
        func scalar() -> String {
            [
                "18446744073709551617", "1.0", "1e-7", "-0", "true", "null", #""Zoë ☃""#, #""\u00e9\n\"q\"""#,
                #""https://studio.twilio.com/v2/Flows""#,
            ][Int.random(in: 0..<9, using: &generator)]
        }
        func value(_ depth: Int) -> String {
            switch depth > 3 ? 0 : Int.random(in: 0..<4, using: &generator) {
            case 0: return scalar()
            case 1:
                return "["
                    + (0..<Int.random(in: 0..<4, using: &generator)).map { _ in value(depth + 1) }.joined(
                        separator: ",") + "]"
            default:
                let keys = ["url", "links", "meta", "context", "execution_sid", "a", "next_page_url"]
                return "{"
                    + (0..<Int.random(in: 0..<5, using: &generator)).map { _ in
                        "\"\(keys.randomElement(using: &generator)!)\": \(value(depth + 1))"
                    }.joined(separator: ", ") + "}"
            }
        }
        let url = #""url": "https://studio.twilio.com/v2/Flows/FW1/Executions/FN1""#
        let links = #""links": {"steps": "https://studio.twilio.com/v2/x", "odd": 5}"#
        return
            "{\(url), \"context\": \(value(0)), \(links), \"data\": \(value(0)), \"items\": [{\"url\": \"https://studio.twilio.com/i\", \"context\": \(value(1))}]}"
    }
}
