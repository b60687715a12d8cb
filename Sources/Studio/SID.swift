/// A Twilio SID: a two-letter type prefix and 32 lowercase hex digits (`FW…`, `FN…`, `FT…`, `AC…`, `SK…`).
public struct SID: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init?<S: StringProtocol>(_ text: S, prefix: String) {
        // Walks the UTF-8 view once, without copying: this runs on every request.
        var prefixBytes = prefix.utf8.makeIterator()
        var count = 0
        for byte in text.utf8 {
            if count < 2 {
                guard byte == prefixBytes.next() else { return nil }
            } else {
                guard (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) else { return nil }
            }
            count += 1
            if count > 34 { return nil }
        }
        guard count == 34 else { return nil }
        value = String(text)
    }

    public var prefix: Substring { value.prefix(2) }
    public var description: String { value }
}
