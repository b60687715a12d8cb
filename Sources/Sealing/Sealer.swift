import COpenSSL

/// AES-256-GCM sealing of values that leave memory. A sealed value is
/// `0x01 | key fingerprint (4) | nonce (12) | ciphertext | tag (16)`, with a fresh random nonce
/// each time and the value's place (its Redis key, a snapshot record's key) as associated data:
/// without the key nothing of it can be read, changed, made up, or moved to another place.
public struct Sealer: Sendable {
    public let keys: DataKeys

    static let version: UInt8 = 1
    static let nonceBytes = 12
    static let tagBytes = 16
    /// Bytes a sealed value has beyond its plaintext.
    public static let overhead = 1 + 4 + nonceBytes + tagBytes

    public init(keys: DataKeys) { self.keys = keys }

    public func seal(_ plaintext: [UInt8], place: [UInt8]) -> [UInt8] {
        let key = keys.sealing
        var nonce = [UInt8](repeating: 0, count: Self.nonceBytes)
        precondition(RAND_bytes(&nonce, Int32(nonce.count)) == 1, "the system's random source failed")
        var tag = [UInt8](repeating: 0, count: Self.tagBytes)
        guard let ciphertext = Self.crypt(plaintext, key: key, nonce: nonce, place: place, tag: &tag, encrypt: true)
        else { preconditionFailure("AES-256-GCM sealing failed") }
        return [Self.version] + key.fingerprint + nonce + ciphertext + tag
    }

    /// The plaintext, or nil when no key of ours opens it, or it was changed, or it was sealed for
    /// another place.
    public func open(_ sealed: [UInt8], place: [UInt8]) -> [UInt8]? {
        guard sealed.count >= Self.overhead, sealed[0] == Self.version else { return nil }
        let fingerprint = Array(sealed[1..<5])
        guard let key = keys.keys.first(where: { $0.fingerprint == fingerprint }) else { return nil }
        let nonce = Array(sealed[5..<(5 + Self.nonceBytes)])
        let body = Array(sealed[(5 + Self.nonceBytes)..<(sealed.count - Self.tagBytes)])
        var tag = Array(sealed[(sealed.count - Self.tagBytes)...])
        return Self.crypt(body, key: key, nonce: nonce, place: place, tag: &tag, encrypt: false)
    }

    /// One GCM pass: encrypting fills `tag`; decrypting checks it (a changed byte anywhere, or
    /// another place, fails: nil).
    private static func crypt(
        _ input: [UInt8], key: DataKey, nonce: [UInt8], place: [UInt8], tag: inout [UInt8], encrypt: Bool
    ) -> [UInt8]? {
        guard let context = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(context) }
        let initialize = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex
        let update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate
        var length: Int32 = 0
        guard initialize(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
            copenssl_gcm_set_ivlen(context, Int32(nonceBytes)) == 1,
            initialize(context, nil, nil, key.bytes, nonce) == 1,
            place.isEmpty || update(context, nil, &length, place, Int32(place.count)) == 1
        else { return nil }
        var output = [UInt8](repeating: 0, count: input.count + 16)
        let done = output.withUnsafeMutableBufferPointer { out -> Int? in
            var total: Int32 = 0
            if !input.isEmpty {
                guard update(context, out.baseAddress, &total, input, Int32(input.count)) == 1 else { return nil }
            }
            if !encrypt, copenssl_gcm_set_tag(context, Int32(tagBytes), &tag) != 1 { return nil }
            let finish = encrypt ? EVP_EncryptFinal_ex : EVP_DecryptFinal_ex
            guard finish(context, out.baseAddress! + Int(total), &length) == 1 else { return nil }
            return Int(total + length)
        }
        guard let done else { return nil }
        if encrypt, copenssl_gcm_get_tag(context, Int32(tagBytes), &tag) != 1 { return nil }
        return Array(output[0..<done])
    }
}
