import COpenSSL

/// Why TLS failed, in words an operator can act on. Reasons come from OpenSSL's error strings and
/// name files by path; they never hold a key, a certificate's contents or application data.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }

    /// `what` with the reasons OpenSSL queued on this thread (the queue is emptied).
    static func openSSL(_ what: String) -> TLSError {
        guard let queued = OpenSSLErrorQueue.drain() else { return TLSError(what) }
        return TLSError("\(what): \(queued)")
    }
}

/// OpenSSL's per-thread error queue. Cleared before each call whose failure is read from it, so a
/// failure is never blamed on an earlier connection of the same thread.
enum OpenSSLErrorQueue {
    static func clear() { ERR_clear_error() }

    /// The queued reasons, oldest first (`certificate verify failed`, `wrong version number`), or
    /// nil when there are none.
    static func drain() -> String? {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            if let reason = ERR_reason_error_string(code) {
                reasons.append(String(cString: reason))
            } else {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }
}
