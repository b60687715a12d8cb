import Auth
import Glibc
import HTTP
import Locking
import Studio

/// The caller's credential as the gateway uses it: the SHA-256 digest that keys proofs in the
/// `CredentialBook`, and the username (AC… or SK…) that says how a 2xx proves it.
///
/// Keep-alive clients send the same `Authorization` value on every request, so the derived
/// credential is remembered for the connection and reused while the value is unchanged: base64
/// and SHA-256 are paid once per connection, not once per request. A class, so the connection
/// holds a reference rather than a boxed copy.
final class CallerCredential: Sendable {
    let digest: SHA256Digest
    let username: String
    /// The value it came from, for comparison only. It lives as long as the connection, like
    /// the request bytes themselves; it is never logged, persisted or used as a key.
    private let authorization: String
    /// What the credential book said last time (the connection's next requests skip its table).
    private let recollection = Locked<CredentialBook.Recollection?>(nil)

    init?(authorization: String) {
        guard let basic = BasicCredentials(authorization: authorization) else { return nil }
        self.authorization = authorization
        digest = CredentialBook.digest(authorization: authorization)
        username = basic.username
    }

    /// The account `book` has verified this credential for, for `family`.
    func verifiedAccount(in book: CredentialBook, family: ResourceFamily, now: Double) -> String? {
        recollection.withLock { book.verifiedAccount(digest, family: family, now: now, recalling: &$0) }
    }

    /// `previous` if it was derived from this same value, otherwise a fresh derivation.
    private func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        authorization.withUTF8Bytes { own in
            own.count == bytes.count && (own.isEmpty || memcmp(own.baseAddress!, bytes.baseAddress!, own.count) == 0)
        }
    }

    /// The bytes are compared in place: a connection's repeated credential makes no string.
    static func derive(_ authorization: UnsafeRawBufferPointer, reusing previous: CallerCredential?)
        -> CallerCredential?
    {
        if let previous, previous.matches(authorization) { return previous }
        return CallerCredential(authorization: String(decoding: authorization, as: UTF8.self))
    }

    static func derive(_ authorization: String, reusing previous: CallerCredential?) -> CallerCredential? {
        authorization.withUTF8Bytes { derive(UnsafeRawBufferPointer($0), reusing: previous) }
    }
}
