/// A Twilio SID: a two-letter type prefix and 32 lowercase hex digits (`FW…`, `FN…`, `FT…`, `AC…`, `SK…`).
public struct SID: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init?<S: StringProtocol>(_ text: S, prefix: String) {
        let value = String(text)
        var bytes = value
        var prefix = prefix
        guard bytes.withUTF8({ bytes in prefix.withUTF8 { Self.isValid(bytes, prefix: $0) } }) else { return nil }
        self.value = value
    }

    /// Validates the bytes (a request path's segment) before making the one string kept.
    public init?(bytes: UnsafeBufferPointer<UInt8>, prefix: StaticString) {
        guard Self.isValid(bytes, prefix: UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
        else { return nil }
        value = String(decoding: bytes, as: UTF8.self)
    }

    private static func isValid(_ bytes: UnsafeBufferPointer<UInt8>, prefix: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 34, prefix.count == 2, bytes[0] == prefix[0], bytes[1] == prefix[1] else { return false }
        for byte in bytes[2...] where !((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)) {
            return false
        }
        return true
    }

    public var prefix: Substring { value.prefix(2) }
    public var description: String { value }
}
