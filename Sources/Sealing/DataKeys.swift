/// `--data-key`: the keys that seal what leaves the gateway's memory (Redis values, snapshot
/// records). Each is 32 random bytes written as 64 hex digits; several are comma-separated: the
/// first seals, every one opens, so a key is rotated without downtime (new key first, old second,
/// then the old one dropped once nothing sealed with it is left).
///
/// The keys are never printed: `description` names how many there are and their ids only.
public struct DataKeys: Sendable, CustomStringConvertible {
    public let keys: [DataKey]

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// `text`: one or more 64-hex-digit keys, comma-separated (spaces around commas allowed).
    public init(parsing text: String) throws(ParseError) {
        var keys: [DataKey] = []
        for (index, part) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let hex = part.trimmingCharacters(in: " \t")
            guard hex.utf8.count == 64, let bytes = Self.bytes(hex: hex) else {
                throw ParseError(
                    description:
                        "key \(index + 1) is not 32 bytes as 64 hex digits (make one with: openssl rand -hex 32)")
            }
            keys.append(DataKey(bytes))
        }
        guard !keys.isEmpty else { throw ParseError(description: "no key given") }
        self.keys = keys
    }

    public init(_ keys: [DataKey]) {
        precondition(!keys.isEmpty, "at least one key seals")
        self.keys = keys
    }

    /// The key that seals.
    public var sealing: DataKey { keys[0] }
    /// The key names are made with: the last, so putting a new key in front keeps every name (and
    /// so every shared entry and proof) through a rotation; dropping the last key renames once.
    public var naming: DataKey { keys[keys.count - 1] }

    public var description: String {
        "\(keys.count) data key\(keys.count == 1 ? "" : "s") (sealing with \(sealing.id)"
            + (keys.count > 1 ? ", also opening \(keys.dropFirst().map(\.id).joined(separator: ", ")))" : ")")
    }

    private static func bytes(hex: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8? = nil
        for byte in hex.utf8 {
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let value = high {
                bytes.append(value << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return high == nil ? bytes : nil
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var text = self
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return text
    }
}
