/// A Twilio SID: a two-letter type prefix and 32 lowercase hex digits (`FW…`, `FN…`, `FT…`, `AC…`, `SK…`).
/// Held as its prefix and the 16 bytes the digits spell (18 bytes inline, no heap string): routing
/// makes up to three per request, routes and cache keys carry them, and comparing or hashing one
/// is three word operations. The text is rendered back when a path, key or log needs it.
public struct SID: Hashable, Sendable, CustomStringConvertible {
    /// The two prefix letters, first in the low byte.
    @usableFromInline let prefixBytes: UInt16
    /// The digits' bytes in order: the first eight in `high` (first in its low byte), the rest in `low`.
    @usableFromInline let high: UInt64
    @usableFromInline let low: UInt64

    public init?<S: StringProtocol>(_ text: S, prefix: String) {
        var text = String(text)
        var prefix = prefix
        guard
            let sid = text.withUTF8({ bytes in
                prefix.withUTF8 { prefix in
                    prefix.count == 2 ? SID(validating: bytes, prefix: (prefix[0], prefix[1])) : nil
                }
            })
        else { return nil }
        self = sid
    }

    /// Validates the bytes (a request path's segment) and keeps what they spell.
    public init?(bytes: UnsafeBufferPointer<UInt8>, prefix: StaticString) {
        guard let sid = SID(validating: bytes, prefix: (prefix.utf8Start[0], prefix.utf8Start[1])) else { return nil }
        self = sid
    }

    private init?(validating bytes: UnsafeBufferPointer<UInt8>, prefix: (UInt8, UInt8)) {
        guard bytes.count == 34, bytes[0] == prefix.0, bytes[1] == prefix.1 else { return nil }
        let digits = UnsafeRawPointer(bytes.baseAddress! + 2)
        let first = digits.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        let second = digits.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let third = digits.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        let fourth = digits.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        guard
            Self.allLowerHex(first) && Self.allLowerHex(second) && Self.allLowerHex(third)
                && Self.allLowerHex(fourth)
        else { return nil }
        prefixBytes = UInt16(prefix.0) | UInt16(prefix.1) << 8
        high = Self.decode(first) | Self.decode(second) << 32
        low = Self.decode(third) | Self.decode(fourth) << 32
    }

    /// Every byte of `word` is `0`-`9` or `a`-`f`. Per byte (no carries cross bytes: each is first
    /// checked to be below 0x80): digits are 0x30...0x39, lowercase hex letters 0x61...0x66.
    @inline(__always) private static func allLowerHex(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        guard word & highs == 0 else { return false }
        // x >= n  ⟺  high bit of (x + 0x80 - n) set, for x, n < 0x80.
        func atLeast(_ n: UInt64) -> UInt64 { (word &+ ones &* (0x80 - n)) & highs }
        let digit = atLeast(0x30) & ~atLeast(0x3A)
        let letter = atLeast(0x61) & ~atLeast(0x67)
        return digit | letter == highs
    }

    /// Eight hex digits (first in the low byte) → the four bytes they spell (first in the low byte).
    @inline(__always) private static func decode(_ word: UInt64) -> UInt64 {
        // Each byte to its value: digits keep their low nibble; letters (bit 6 set) add 9.
        let nibbles = (word & 0x0F0F_0F0F_0F0F_0F0F) &+ ((word >> 6) & 0x0101_0101_0101_0101) &* 9
        // Pairs of nibbles to bytes, one per 16-bit lane, then the lanes packed together.
        var bytes = ((nibbles & 0x00FF_00FF_00FF_00FF) << 4 | (nibbles >> 8)) & 0x00FF_00FF_00FF_00FF
        bytes = (bytes | bytes >> 8) & 0x0000_FFFF_0000_FFFF
        return (bytes | bytes >> 16) & 0xFFFF_FFFF
    }

    /// Four bytes (first in the low byte) → their eight lowercase hex digits (first in the low byte).
    @inline(__always) @usableFromInline static func encode(_ four: UInt64) -> UInt64 {
        var lanes = (four | four << 16) & 0x0000_FFFF_0000_FFFF
        lanes = (lanes | lanes << 8) & 0x00FF_00FF_00FF_00FF
        let nibbles = (lanes >> 4) & 0x000F_000F_000F_000F | (lanes & 0x000F_000F_000F_000F) << 8
        let letters = ((nibbles &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
        return nibbles &+ 0x3030_3030_3030_3030 &+ letters &* 39
    }

    /// The 34 bytes of text, rendered on the stack, for writing into keys and paths without a string.
    @inlinable public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        var text:
            (
                UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16,
                UInt16, UInt16, UInt16, UInt16
            ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return try withUnsafeMutableBytes(of: &text) { buffer in
            buffer.storeBytes(of: prefixBytes, toByteOffset: 0, as: UInt16.self)
            buffer.storeBytes(of: Self.encode(high & 0xFFFF_FFFF), toByteOffset: 2, as: UInt64.self)
            buffer.storeBytes(of: Self.encode(high >> 32), toByteOffset: 10, as: UInt64.self)
            buffer.storeBytes(of: Self.encode(low & 0xFFFF_FFFF), toByteOffset: 18, as: UInt64.self)
            buffer.storeBytes(of: Self.encode(low >> 32), toByteOffset: 26, as: UInt64.self)
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }

    /// The 16 bytes the digits spell, as two words (for tables keyed by SID that keep the prefix implied).
    public var digitWords: (high: UInt64, low: UInt64) { (high, low) }

    /// An execution's SID (`FN`) from the words `digitWords` gave.
    public init(executionWords high: UInt64, _ low: UInt64) {
        prefixBytes = Self.executionPrefix
        self.high = high
        self.low = low
    }

    /// Whether this is an execution's SID (`FN…`).
    public var isExecution: Bool { prefixBytes == Self.executionPrefix }

    @usableFromInline static let executionPrefix = UInt16(UInt8(ascii: "F")) | UInt16(UInt8(ascii: "N")) << 8

    /// The SID as a string (allocates: for keys, logs and paths off the hit path).
    public var value: String { withBytes { String(decoding: $0, as: UTF8.self) } }
    public var prefix: String { withBytes { String(decoding: $0[..<2], as: UTF8.self) } }
    /// The second prefix letter (`N` of `FN`), without rendering anything.
    public var kindLetter: UInt8 { UInt8(truncatingIfNeeded: prefixBytes >> 8) }
    public var description: String { value }

    /// An unseeded mix of all the bytes (murmur3's finaliser over the folded words), every output
    /// bit depending on every input bit: SIDs made in sequence differ only in their last digits,
    /// and a shard or table picked from a few output bits must still spread them.
    public var fingerprint: UInt64 {
        var mixed = high ^ (low << 32 | low >> 32) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(prefixBytes)
        mixed ^= mixed >> 33
        mixed &*= 0xFF51_AFD7_ED55_8CCD
        mixed ^= mixed >> 33
        mixed &*= 0xC4CE_B9FE_1A85_EC53
        return mixed ^ mixed >> 33
    }
}
