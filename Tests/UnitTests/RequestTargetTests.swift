import Foundation
import XCTest

@testable import Studio
@testable import TestSupport

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
