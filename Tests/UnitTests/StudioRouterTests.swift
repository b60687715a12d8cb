import Foundation
import XCTest

@testable import Studio
@testable import TestSupport

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
