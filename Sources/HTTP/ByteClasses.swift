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

    /// Visible ASCII only: request targets carry no spaces, controls or raw non-ASCII.
    @inline(__always) static func isTargetByte(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }

    @inline(__always) static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
