/// A Twilio SID: a two-letter type prefix and 32 lowercase hex digits (`FW…`, `FN…`, `FT…`, `AC…`, `SK…`).
/// Held as its 34 bytes inline (no heap string): routing a request makes up to three of them, and
/// comparing or hashing one is a few word operations.
public struct SID: Hashable, Sendable, CustomStringConvertible {
    /// The ASCII bytes, in order: 4 × 8 + 2.
    @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64, UInt16) = (0, 0, 0, 0, 0)

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

    /// Validates the bytes (a request path's segment) and keeps them inline.
    public init?(bytes: UnsafeBufferPointer<UInt8>, prefix: StaticString) {
        guard let sid = SID(validating: bytes, prefix: (prefix.utf8Start[0], prefix.utf8Start[1])) else { return nil }
        self = sid
    }

    private init?(validating bytes: UnsafeBufferPointer<UInt8>, prefix: (UInt8, UInt8)) {
        guard bytes.count == 34, bytes[0] == prefix.0, bytes[1] == prefix.1 else { return nil }
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(bytes)) }
        // The 32 digits are bytes 2..<34: the last six bytes of the first word, then three whole
        // words, then the two bytes of the last (padded with digits to check whole words).
        let digitsOfFirst = words.0 & ~0xFFFF | 0x3030  // the prefix's two bytes replaced by digits
        let lastWord = UInt64(words.4) | 0x3030_3030_3030_0000
        guard
            Self.allLowerHex(digitsOfFirst) && Self.allLowerHex(words.1) && Self.allLowerHex(words.2)
                && Self.allLowerHex(words.3) && Self.allLowerHex(lastWord)
        else { return nil }
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

    /// The 34 bytes, for writing into keys and paths without making a string.
    @inlinable public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(of: words) { try body(UnsafeRawBufferPointer(rebasing: $0[..<34])) }
    }

    /// The SID as a string (allocates: for keys, logs and paths off the hit path).
    public var value: String { withBytes { String(decoding: $0, as: UTF8.self) } }
    public var prefix: String { withBytes { String(decoding: $0[..<2], as: UTF8.self) } }
    public var description: String { value }

    /// An unseeded mix of the bytes: picks a lock shard, never a dictionary slot.
    public var fingerprint: UInt64 {
        (words.0 ^ words.1 &* 3 ^ words.2 &* 5 ^ words.3 &* 7 ^ UInt64(words.4)) &* 0x9E37_79B9_7F4A_7C15
    }

    public static func == (left: SID, right: SID) -> Bool {
        left.words.0 == right.words.0 && left.words.1 == right.words.1 && left.words.2 == right.words.2
            && left.words.3 == right.words.3 && left.words.4 == right.words.4
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
        hasher.combine(words.4)
    }
}
