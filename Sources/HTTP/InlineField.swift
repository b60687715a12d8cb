import Glibc

/// A header field whose value (up to 40 bytes) lives inside the value that carries it: a cached
/// entry's request id is sent without the entry keeping a rendered copy, or a heap string, of it.
public struct InlineField: Sendable {
    public let name: StaticString
    private var bytes: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    private let count: UInt8

    /// Nil for a value over 40 bytes or holding a CR or LF.
    public init?(name: StaticString, value: UnsafeRawBufferPointer) {
        guard value.count <= 40 else { return nil }
        if let base = value.baseAddress,
            memchr(base, 0x0D, value.count) != nil || memchr(base, 0x0A, value.count) != nil
        {
            return nil
        }
        self.name = name
        count = UInt8(value.count)
        withUnsafeMutableBytes(of: &bytes) { $0.copyMemory(from: value) }
    }

    /// For a value already known to be at most 40 bytes without CR or LF (an SID's hex digits).
    public init(name: StaticString, validatedValue value: UnsafeRawBufferPointer) {
        precondition(value.count <= 40)
        self.name = name
        count = UInt8(value.count)
        withUnsafeMutableBytes(of: &bytes) { $0.copyMemory(from: value) }
    }

    public func withValue<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(of: bytes) { body(UnsafeRawBufferPointer(rebasing: $0[..<Int(count)])) }
    }

    public var value: String { withValue { String(decoding: $0, as: UTF8.self) } }
}
