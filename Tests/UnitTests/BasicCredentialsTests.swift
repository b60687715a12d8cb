import Foundation
import XCTest

@testable import Studio
@testable import TestSupport

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
