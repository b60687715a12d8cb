import COpenSSL

/// One 32-byte data key, and the 4-byte id a sealed value names it by (an HMAC of a fixed label
/// under the key: it says which key opens a value without revealing anything of the key).
public struct DataKey: Sendable {
    let bytes: [UInt8]
    /// Four bytes, written first in every value this key seals.
    public let fingerprint: [UInt8]
    /// The key names are made with, derived from this one (a key is used for one purpose only).
    private let namingKey: [UInt8]

    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32, "an AES-256 key is 32 bytes")
        self.bytes = bytes
        fingerprint = Array(HMACSHA256.mac(key: bytes, Array("studiogate data key id".utf8)).prefix(4))
        namingKey = HMACSHA256.mac(key: bytes, Array("studiogate names".utf8))
    }

    /// A name for `data` only a holder of this key can compute (HMAC-SHA256, hex): a credential's
    /// Redis key that a reader of Redis can neither match to a credential nor make for one.
    public func name(for data: [UInt8]) -> String {
        HMACSHA256.mac(key: namingKey, data).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// The fingerprint in hex, for logs.
    public var id: String { fingerprint.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
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
