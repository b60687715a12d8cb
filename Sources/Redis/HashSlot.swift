/// Redis Cluster's rule for where a key lives: CRC16/XMODEM of the key, or of its hash tag, modulo
/// 16384. The hash tag is what lies between the first `{` and the next `}` when that is not empty,
/// so `{user1000}.following` and `{user1000}.followers` share a slot (the fleet's keys tag the account).
public enum HashSlot {
    public static let count = 16_384

    public static func of(_ key: String) -> Int { of(bytes: Array(key.utf8)) }

    public static func of(bytes key: [UInt8]) -> Int { Int(crc16(hashedPart(of: key)) % UInt16(count)) }

    /// The bytes that decide the slot: the hash tag if there is one, else the whole key.
    static func hashedPart(of key: [UInt8]) -> ArraySlice<UInt8> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")),
            close > open + 1
        else { return key[...] }
        return key[(open + 1)..<close]
    }

    /// CRC16/XMODEM (polynomial 0x1021, initial value 0, not reflected), as in the cluster spec.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
