import Auth
import XCTest

@testable import TestSupport

final class AuthTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(
            SHA256.hash([UInt8]()).description, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(
            SHA256.hash("abc".utf8).description, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8).description,
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)).description,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testCredentialProofsExpireAndCanBeForgotten() {
        let book = CredentialBook(ttl: 300)
        let credential = CredentialBook.digest(authorization: "Basic QUM6dG9rZW4=")
        XCTAssertNil(book.verifiedAccount(credential, family: 0, now: 0))
        book.verify(credential, account: "ACa", family: 0, now: 0)
        XCTAssertEqual(book.verifiedAccount(credential, family: 0, now: 299), "ACa")
        XCTAssertNil(book.verifiedAccount(credential, family: 0, now: 300))
        book.verify(credential, account: "ACa", family: 0, now: 400)
        book.forget(credential)
        XCTAssertNil(book.verifiedAccount(credential, family: 0, now: 401))
        XCTAssertNil(book.verifiedAccount(CredentialBook.digest(authorization: "Basic other"), family: 0, now: 401))
    }

    /// Restricted API keys: a proof for executions says nothing about contexts; a 403 there
    /// takes only that family's proof.
    func testProofsArePerResourceFamily() {
        let book = CredentialBook(ttl: 300)
        let key = CredentialBook.digest(authorization: "Basic U0s6c2VjcmV0")
        book.verify(key, account: "ACa", family: 1, now: 0)
        XCTAssertEqual(book.verifiedAccount(key, family: 1, now: 1), "ACa")
        XCTAssertNil(book.verifiedAccount(key, family: 2, now: 1), "verified for executions, not for contexts")
        book.verify(key, account: "ACa", family: 2, now: 2)
        book.forget(key, family: 2)
        XCTAssertNil(book.verifiedAccount(key, family: 2, now: 3))
        XCTAssertEqual(
            book.verifiedAccount(key, family: 1, now: 3), "ACa", "a 403 on contexts leaves the executions proof")
        book.verify(key, account: "ACb", family: 3, now: 4)
        XCTAssertNil(
            book.verifiedAccount(key, family: 1, now: 5), "proven for another account: the old proofs are gone")
    }

    /// A connection's recollection answers exactly as the table does, whatever happened between
    /// two of its requests (401s, 403s, another account, re-verification, expiry, eviction).
    func testARecollectionNeverOutlivesTheProofItRecalls() {
        var random = SystemRandomNumberGenerator()
        for round in 0..<200 {
            let book = CredentialBook(ttl: 10, capacity: 3)
            let credentials = (0..<4).map { SHA256.hash("c\(round):\($0)".utf8) }
            var recollections = [CredentialBook.Recollection?](repeating: nil, count: credentials.count)
            var now = 0.0
            for _ in 0..<60 {
                let which = Int.random(in: 0..<credentials.count, using: &random)
                let family = ResourceFamily(Int.random(in: 0..<3, using: &random))
                switch Int.random(in: 0..<6, using: &random) {
                case 0:
                    book.verify(credentials[which], account: ["ACa", "ACb"].randomElement()!, family: family, now: now)
                case 1: book.forget(credentials[which])
                case 2: book.forget(credentials[which], family: family)
                case 3: now += Double.random(in: 0..<6, using: &random)
                default:
                    let recalled = book.verifiedAccount(
                        credentials[which], family: family, now: now, recalling: &recollections[which])
                    XCTAssertEqual(recalled, book.verifiedAccount(credentials[which], family: family, now: now))
                }
            }
        }
    }

    func testCapacityIsBounded() {
        let book = CredentialBook(ttl: 10, capacity: 100)
        for index in 0..<1000 {
            book.verify(SHA256.hash("c\(index)".utf8), account: "ACa", family: 0, now: Double(index) / 100)
        }
        XCTAssertLessThanOrEqual(book.count, 100)
        XCTAssertEqual(book.verifiedAccount(SHA256.hash("c999".utf8), family: 0, now: 10), "ACa")
    }
}
