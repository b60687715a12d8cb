/// A Twilio SID: a two-letter type prefix and 32 lowercase hex digits (`FW…`, `FN…`, `FT…`, `AC…`, `SK…`).
public struct SID: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init?<S: StringProtocol>(_ text: S, prefix: String) {
        let bytes = Array(text.utf8)
        let prefixBytes = Array(prefix.utf8)
        guard prefixBytes.count == 2, bytes.count == 34, bytes[0] == prefixBytes[0], bytes[1] == prefixBytes[1],
              bytes[2...].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { return nil }
        value = String(text)
    }

    public var prefix: Substring { value.prefix(2) }
    public var description: String { value }
}
