/// RFC 9110 character classes over raw bytes.
enum ByteClass {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A

    /// tchar: the bytes allowed in methods and header names (RFC 9110 §5.6.2), as a 128-bit set:
    /// ALPHA, DIGIT and `!#$%&'*+-.^_`|~`. A constant, so the per-byte test is two shifts.
    static let tokenBelow64: UInt64 = 0x03FF_6CFA_0000_0000
    static let token64To127: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    @inline(__always) static func isToken(_ byte: UInt8) -> Bool {
        if byte < 64 { return tokenBelow64 & (1 << UInt64(byte)) != 0 }
        if byte < 128 { return token64To127 & (1 << UInt64(byte - 64)) != 0 }
        return false
    }

    /// field-vchar / SP / HTAB, obs-text included; no CTLs (NUL, CR, LF, DEL...).
    @inline(__always) static func isFieldValue(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    @inline(__always) static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    // Eight bytes per step: in a word `w`, a byte is 0x80 or more where `w` has its top bit, and
    // below `limit` (at most 0x80) where `(w - limit…limit) & ~w` has it. Borrows only start from
    // a byte below `limit`, so a word with no such bit has no such byte.
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let tops: UInt64 = 0x8080_8080_8080_8080

    @inline(__always) private static func hasByte(below limit: UInt8, in word: UInt64) -> Bool {
        (word &- ones &* UInt64(limit)) & ~word & tops != 0
    }

    /// Whether every byte is in `low...0x7E` (`low` at most 0x80): visible ASCII for targets
    /// (`low` 0x21), plus space for field values (0x20). A word is also out of range where
    /// `w + 0x01…01` has a top bit (a byte of 0x7F or more); carries too start only there.
    static func allInASCIIRange(_ bytes: UnsafeRawBufferPointer, from low: UInt8) -> Bool {
        var index = 0
        if let base = bytes.baseAddress {
            while index + 8 <= bytes.count {
                let word = (base + index).loadUnaligned(as: UInt64.self)
                if (word | (word &+ ones)) & tops != 0 || hasByte(below: low, in: word) { return false }
                index += 8
            }
        }
        while index < bytes.count {
            if bytes[index] < low || bytes[index] > 0x7E { return false }
            index += 1
        }
        return true
    }

    /// Whether `bytes` holds a CR or LF: only words with a byte below 0x0E are looked at byte by byte.
    static func containsLineBreak(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        let isLineBreak = { (byte: UInt8) in byte == cr || byte == lf }
        var index = 0
        while index + 8 <= bytes.count {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            if hasByte(below: 0x0E, in: word),
                UnsafeBufferPointer(start: base + index, count: 8).contains(where: isLineBreak)
            {
                return true
            }
            index += 8
        }
        return UnsafeBufferPointer(start: base + index, count: bytes.count - index).contains(where: isLineBreak)
    }
}
