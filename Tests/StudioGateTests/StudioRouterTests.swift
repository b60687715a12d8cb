import Foundation
import XCTest

@testable import Studio

final class StudioRouterTests: XCTestCase {
    let fw = "FW" + String(repeating: "a", count: 32)
    let fn = "FN" + String(repeating: "b", count: 32)
    let ft = "FT" + String(repeating: "c", count: 32)

    func route(_ path: String) -> StudioRoute? {
        if case .route(let route) = StudioRouter.match(path: path) { return route }
        return nil
    }

    func testExecutionFamilyOnBothVersions() throws {
        for version in ["v1", "v2"] {
            let base = "/\(version)/Flows/\(fw)/Executions"
            let expectations: [(String, StudioRoute.Resource, [String])] = [
                (base, .executionList, ["GET", "POST"]),
                ("\(base)/\(fn)", .execution, ["GET", "POST", "DELETE"]),
                ("\(base)/\(fn)/Context", .executionContext, ["GET"]),
                ("\(base)/\(fn)/Steps", .stepList, ["GET"]),
                ("\(base)/\(fn)/Steps/\(ft)", .step, ["GET"]),
                ("\(base)/\(fn)/Steps/\(ft)/Context", .stepContext, ["GET"]),
            ]
            for (path, resource, methods) in expectations {
                let matched = try XCTUnwrap(route(path), path)
                XCTAssertEqual(matched.resource, resource, path)
                XCTAssertEqual(matched.allowedMethods.map(\.rawValue), methods, path)
                XCTAssertEqual(matched.version.rawValue, version)
                XCTAssertEqual(matched.upstreamPath, path)
                XCTAssertFalse(matched.viaEngagements)
            }
        }
    }

    func testEngagementsMapToV1Executions() throws {
        let base = "/v1/Flows/\(fw)/Engagements"
        let cases: [(String, String, StudioRoute.Resource, [String])] = [
            (base, "/v1/Flows/\(fw)/Executions", .executionList, ["GET", "POST"]),
            ("\(base)/\(fn)", "/v1/Flows/\(fw)/Executions/\(fn)", .execution, ["GET", "DELETE"]),
            ("\(base)/\(fn)/Context", "/v1/Flows/\(fw)/Executions/\(fn)/Context", .executionContext, ["GET"]),
            ("\(base)/\(fn)/Steps", "/v1/Flows/\(fw)/Executions/\(fn)/Steps", .stepList, ["GET"]),
            ("\(base)/\(fn)/Steps/\(ft)", "/v1/Flows/\(fw)/Executions/\(fn)/Steps/\(ft)", .step, ["GET"]),
            (
                "\(base)/\(fn)/Steps/\(ft)/Context", "/v1/Flows/\(fw)/Executions/\(fn)/Steps/\(ft)/Context",
                .stepContext, ["GET"]
            ),
        ]
        for (path, upstream, resource, methods) in cases {
            let matched = try XCTUnwrap(route(path), path)
            XCTAssertTrue(matched.viaEngagements)
            XCTAssertEqual(matched.upstreamPath, upstream)
            XCTAssertEqual(matched.resource, resource)
            XCTAssertEqual(matched.allowedMethods.map(\.rawValue), methods)
        }
        XCTAssertNil(route("/v2/Flows/\(fw)/Engagements"), "Engagements exist on v1 only")
    }

    func testFlowAdminPathsAreKnown() {
        XCTAssertEqual(route("/v1/Flows")?.resource, .flowAdmin)
        XCTAssertEqual(route("/v2/Flows")?.allowedMethods, ["GET", "POST"])
        XCTAssertEqual(route("/v2/Flows/Validate")?.allowedMethods, ["POST"])
        XCTAssertEqual(route("/v2/Flows/\(fw)")?.allowedMethods, ["GET", "POST", "DELETE"])
        XCTAssertEqual(route("/v1/Flows/\(fw)")?.allowedMethods, ["GET", "DELETE"])
        XCTAssertEqual(route("/v2/Flows/\(fw)/Revisions")?.resource, .flowAdmin)
        XCTAssertEqual(route("/v2/Flows/\(fw)/Revisions/3")?.upstreamPath, "/v2/Flows/\(fw)/Revisions/3")
        XCTAssertEqual(route("/v2/Flows/\(fw)/TestUsers")?.allowedMethods, ["GET", "POST"])
    }

    func testUnknownPathsAndBadSIDsAreNotFound() {
        let bad = [
            "/", "/v3/Flows", "/v2/flows", "/v2/Flows/", "/v2/Flows//Executions", "/v2/Services",
            "/v2/Flows/\(fw)/Executions/", "/v2/Flows/\(fw)/Executions/\(fn)/Context/extra",
            "/v2/Flows/FWshort/Executions", "/v2/Flows/\(fw.uppercased())/Executions",
            "/v2/Flows/FX\(String(repeating: "a", count: 32))/Executions",
            "/v2/Flows/\(fw)/Executions/FW\(String(repeating: "b", count: 32))",
            "/v2/Flows/\(fw)/Executions/\(fn)/Steps/FN\(String(repeating: "c", count: 32))",
            "/v2/Flows/\(fw)/Executions/\(fn)/Steps/\(ft)/Bogus",
            "/v2/Flows/\(fw)/Executions/\(String(fn.dropLast()))g",
            "/v1/Flows/\(fw)/Revisions", "v2/Flows",
        ]
        for path in bad { XCTAssertEqual(StudioRouter.match(path: path), .notFound, path) }
    }

    func testSIDValidation() {
        XCTAssertNotNil(SID(fw, prefix: "FW"))
        XCTAssertNil(SID(fw, prefix: "FN"))
        XCTAssertNil(SID(fw + "0", prefix: "FW"))
        XCTAssertNil(SID("FW" + String(repeating: "A", count: 32), prefix: "FW"))
        XCTAssertNil(SID("FW" + String(repeating: "é", count: 16), prefix: "FW"))
    }

    /// Digits are checked a word at a time: every byte value in every digit position gives the
    /// same answer as the plain rule, and the SID reads back as it was written.
    func testEveryByteInEveryDigitPositionIsCheckedLikeThePlainRule() {
        let valid = Array(("FN" + "0123456789abcdef0123456789abcdef").utf8)
        for position in 2..<34 {
            for byte in 0...255 {
                var bytes = valid
                bytes[position] = UInt8(byte)
                let sid = bytes.withUnsafeBufferPointer { SID(bytes: $0, prefix: "FN") }
                let plain = (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
                XCTAssertEqual(sid != nil, plain, "byte \(byte) at \(position)")
                if let sid { XCTAssertEqual(Array(sid.value.utf8), bytes) }
            }
        }
        XCTAssertNil(valid.withUnsafeBufferPointer { SID(bytes: $0, prefix: "FW") })
        XCTAssertEqual(SID(String(decoding: valid, as: UTF8.self), prefix: "FN")?.prefix, "FN")
        // Held as bytes, read back as text: random SIDs survive the round trip, and two SIDs are
        // equal (and hash alike) exactly when their texts are.
        var seen: [SID: String] = [:]
        for _ in 0..<2000 {
            let text = "FT" + String((0..<32).map { _ in "0123456789abcdef".randomElement()! })
            let sid = SID(text, prefix: "FT")!
            XCTAssertEqual(sid.value, text)
            XCTAssertEqual(sid.kindLetter, UInt8(ascii: "T"))
            if let earlier = seen[sid] { XCTAssertEqual(earlier, text) }
            seen[sid] = text
        }
        XCTAssertNotEqual(
            SID("FN" + String(repeating: "a", count: 32), prefix: "FN"),
            SID("FW" + String(repeating: "a", count: 32), prefix: "FW"))
    }
}

final class RequestTargetTests: XCTestCase {
    func parse(_ target: String, own: [String] = ["127.0.0.1:8080"]) -> Result<RequestTarget, RequestTarget.Rejection> {
        RequestTarget.parse(target, ownAuthorities: own)
    }

    func testOriginFormSplitsPathAndQuery() {
        XCTAssertEqual(
            try parse("/v2/Flows?PageSize=5&Page=1").get(), RequestTarget(path: "/v2/Flows", query: "PageSize=5&Page=1")
        )
        XCTAssertEqual(try parse("/v2/Flows").get(), RequestTarget(path: "/v2/Flows", query: ""))
    }

    func testAbsoluteFormOnlyForOurOwnAuthority() {
        XCTAssertEqual(
            try parse("http://127.0.0.1:8080/v2/Flows?a=1").get(), RequestTarget(path: "/v2/Flows", query: "a=1"))
        XCTAssertThrowsError(try parse("http://evil.example/v2/Flows").get())
        XCTAssertThrowsError(try parse("https://studio.twilio.com/v2/Flows").get())
        XCTAssertThrowsError(try parse("studio.twilio.com:443").get())
        XCTAssertThrowsError(try parse("*").get())
        XCTAssertThrowsError(try parse("ftp://127.0.0.1:8080/").get())
    }

    func testTraversalAndEncodedSeparatorsAreRefused() {
        for target in [
            "/v2/../admin", "/v2/Flows/..", "/v2/./Flows", "/v2%2FFlows", "/v2%2fFlows", "/v2/Flows%00", "/v2/%2e%2e/x",
            "/v2\\Flows",
        ] {
            XCTAssertThrowsError(try parse(target).get(), target)
        }
    }

    /// Found by the request-target fuzzer: the byte-level rewrite had started refusing `\\` in
    /// the query, which the rules allow (only the path refuses it). Escapes are checked only when
    /// complete, dots only as whole segments.
    func testQueryRulesDifferFromThePathRules() {
        XCTAssertEqual(try parse("/v2/Flows?q=a\\b").get(), RequestTarget(path: "/v2/Flows", query: "q=a\\b"))
        XCTAssertEqual(try parse("/v2/Flows?q=%2F").get(), RequestTarget(path: "/v2/Flows", query: "q=%2F"))
        XCTAssertEqual(try parse("/v2/Flows/...%2").get(), RequestTarget(path: "/v2/Flows/...%2", query: ""))
        for target in [
            "/v2/Flows?q=#", "/v2/Flows?q= ", "/v2/Flows?q=\u{7F}", "/v2/Fl%2E", "/v2/.", "/v2/Flows/..?x=1",
        ] {
            XCTAssertThrowsError(try parse(target).get(), target)
        }
    }

    /// The path check reads eight bytes at a time: random targets built from the bytes that matter,
    /// at every offset within a word, agree with the rules stated plainly over String APIs.
    func testWordAtATimeChecksAgreeWithThePlainRules() {
        let alphabet: [UInt8] = Array("/%2fFeE05cC.\\#?ab".utf8) + [0x20, 0x7F, 0x80, 0x09, 0x21, 0x7E]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let bytes = [UInt8(ascii: "/")] + (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            let target = String(decoding: bytes, as: UTF8.self)
            let accepted = (try? parse(target).get()) != nil
            XCTAssertEqual(accepted, Self.plainRulesAccept(target), target.debugDescription)
        }
        // Routed paths skip the path checks: one byte changed anywhere in one (or a query added)
        // must still be judged by the rules.
        let fw = "FW" + String(repeating: "a", count: 32)
        let fn = "FN" + String(repeating: "b", count: 32)
        let routed = Array("/v2/Flows/\(fw)/Executions/\(fn)/Context".utf8)
        for _ in 0..<20_000 {
            var bytes = routed
            bytes[Int.random(in: 1..<bytes.count, using: &generator)] = alphabet.randomElement(using: &generator)!
            if Bool.random(using: &generator) { bytes += Array("?a=%2F\\".utf8) }
            let target = String(decoding: bytes, as: UTF8.self)
            let accepted = (try? parse(target).get()) != nil
            XCTAssertEqual(accepted, Self.plainRulesAccept(target), target.debugDescription)
        }
    }

    /// Visible ASCII without `\\` or `#`; no `.`/`..` segment and no %2F, %5C, %00 or %2E in the
    /// path; visible ASCII without `#` in the query.
    static func plainRulesAccept(_ target: String) -> Bool {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        let query = parts.count > 1 ? String(parts[1]) : ""
        let visible = { (text: String) in text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F } }
        guard visible(path), visible(query), !path.contains("\\"), !path.contains("#"), !query.contains("#") else {
            return false
        }
        let lower = path.lowercased()
        guard !["%2f", "%5c", "%00", "%2e"].contains(where: { lower.contains($0) }) else { return false }
        return !path.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == "." || $0 == ".." }
    }
}

final class BasicCredentialsTests: XCTestCase {
    func testParsesEveryPaddingAndSchemeCase() {
        for (user, password) in [
            ("AC1", "t"), ("AC12", "to"), ("AC123", "tok"),
            ("SK" + String(repeating: "f", count: 32), "sécret:with:colons"),
        ] {
            let value = BasicCredentials(username: user, password: password).authorizationValue
            XCTAssertEqual(BasicCredentials(authorization: value), BasicCredentials(username: user, password: password))
            XCTAssertEqual(
                BasicCredentials(authorization: "bAsIc  " + value.dropFirst(6) + " "),
                BasicCredentials(username: user, password: password))
        }
    }

    func testRejectsMalformedValues() {
        let bad = [
            "", "Basic", "Basic ", "Bearer QUM6dA==", "Basic QUM6dA=", "Basic QUM6dA===", "Basic QU=6dA==",
            "Basic !!!!",
            "Basic " + Data("nocolon".utf8).base64EncodedString(),
            "Basic " + Data(":password".utf8).base64EncodedString(),
            "Basic " + Data("user:".utf8).base64EncodedString(),
            "Basic " + Data([0x41, 0xFF, 0x3A, 0x41]).base64EncodedString(),
        ]
        for value in bad { XCTAssertNil(BasicCredentials(authorization: value), value) }
    }
}
