import COpenSSL
import Locking

/// One 32-byte data key, and the 4-byte id a sealed value names it by (an HMAC of a fixed label
/// under the key: it says which key opens a value without revealing anything of the key).
public struct DataKey: Sendable {
    let bytes: [UInt8]
    /// Four bytes, written first in every value this key seals.
    public let fingerprint: [UInt8]
    /// The key names are made with, derived from this one (a key is used for one purpose only).
    private let namingKey: [UInt8]
    /// Names already made: the fleet names an account or a credential on every second-level
    /// request, they are few, and OpenSSL 3's one-shot HMAC costs ~240k instructions (it fetches
    /// the digest each time). Bounded: past the bound it starts over.
    private let names = Locked<[[UInt8]: String]>([:])
    private static let namesKept = 4_096

    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32, "an AES-256 key is 32 bytes")
        self.bytes = bytes
        fingerprint = Array(HMACSHA256.mac(key: bytes, Array("studiogate data key id".utf8)).prefix(4))
        namingKey = HMACSHA256.mac(key: bytes, Array("studiogate names".utf8))
    }

    /// A name for `data` only a holder of this key can compute (HMAC-SHA256, hex): a credential's
    /// Redis key that a reader of Redis can neither match to a credential nor make for one.
    public func name(for data: [UInt8]) -> String {
        if let known = names.withLock({ $0[data] }) { return known }
        let name = Self.hex(HMACSHA256.mac(key: namingKey, data))
        names.withLock { names in
            if names.count >= Self.namesKept { names.removeAll(keepingCapacity: true) }
            names[data] = name
        }
        return name
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The fingerprint in hex, for logs.
    public var id: String { Self.hex(fingerprint) }
}

/// HMAC-SHA256 (libcrypto).
public enum HMACSHA256 {
    public static func mac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        key.withUnsafeBytes { key in
            message.withUnsafeBytes { message in
                _ = HMAC(
                    EVP_sha256(), key.baseAddress, Int32(key.count), message.bindMemory(to: UInt8.self).baseAddress,
                    message.count, &out, &length)
            }
        }
        precondition(length == 32, "HMAC-SHA256 gives 32 bytes")
        return out
    }
}
