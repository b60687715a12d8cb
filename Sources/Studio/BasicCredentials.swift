import Foundation

/// `Authorization: Basic base64(username:password)` as Twilio uses it: AC… or SK… and a secret.
public struct BasicCredentials: Equatable, Sendable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Parses `Basic <base64(user:password)>` on bytes (this runs on every request).
    public init?(authorization: String?) {
        guard let authorization else { return nil }
        var bytes = Array(authorization.utf8)[...]
        let scheme = Array("basic ".utf8)
        guard bytes.count > scheme.count, zip(bytes.prefix(scheme.count), scheme).allSatisfy({ $0 | 0x20 == $1 | 0x20 })
        else { return nil }
        bytes = bytes.dropFirst(scheme.count)
        while bytes.first == 0x20 { bytes = bytes.dropFirst() }
        while bytes.last == 0x20 { bytes = bytes.dropLast() }
        guard let decoded = Self.base64Decode(bytes), let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
            colon > 0, colon < decoded.count - 1, let user = String(validating: decoded[..<colon], as: UTF8.self),
            let secret = String(validating: decoded[(colon + 1)...], as: UTF8.self)
        else { return nil }
        username = user
        password = secret
    }

    private static let base64Values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()

    /// Standard base64 with `=` padding; nil on anything else.
    static func base64Decode(_ input: ArraySlice<UInt8>) -> [UInt8]? {
        guard !input.isEmpty, input.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var index = input.startIndex
        while index < input.endIndex {
            var quad: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                if byte == UInt8(ascii: "=") && index + 4 == input.endIndex && offset >= 2 {
                    padding += 1
                    quad <<= 6
                    continue
                }
                guard padding == 0 else { return nil }
                let value = base64Values[Int(byte)]
                guard value != 0xFF else { return nil }
                quad = quad << 6 | UInt32(value)
            }
            output.append(UInt8(truncatingIfNeeded: quad >> 16))
            if padding < 2 { output.append(UInt8(truncatingIfNeeded: quad >> 8)) }
            if padding < 1 { output.append(UInt8(truncatingIfNeeded: quad)) }
            index += 4
        }
        return output
    }

    public var authorizationValue: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}
