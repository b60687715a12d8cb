/// A byte-preserving rewriter for Studio response bodies (docs/ARCHITECTURE.md, «URL rewriting and
/// the Engagement view»).
///
/// It walks the JSON once and changes only the members it targets — the top-level `url`, every
/// value in `links`, `meta.*url`, the same members of each item of a top-level array, and for the
/// Engagement view the key renames of the mapping table. Everything else, including user data
/// (`context`) whatever it contains, is copied byte for byte: escapes, key order, big integers,
/// `1.0`, unicode. No `JSONSerialization` round trip, no `Double`.
public enum StudioJSONRewriter {
    /// The rewritten body, or nil when `body` is not a single JSON object.
    public static func rewrite(_ body: [UInt8], _ rules: URLRewrite) -> [UInt8]? {
        rewriteAndRead(body, rules)?.bytes
    }

    /// The rewritten body and, from the same pass, what the cache must learn from it (whose it
    /// is, which executions have ended); nil when `body` is not a single JSON object.
    public static func rewriteAndRead(_ body: [UInt8], _ rules: URLRewrite) -> (bytes: [UInt8], facts: ExecutionFacts)?
    {
        body.withUnsafeBufferPointer { input in
            var scanner = Scanner(input: input, rules: rules)
            guard let bytes = try? scanner.document() else { return nil }
            return (bytes, scanner.facts.result)
        }
    }
}

/// The members of a Studio body that say whose it is and what has ended, gathered while scanning.
private struct FactsGatherer {
    var account: String?
    var status: String?
    var created: Int64?
    var contact = ExecutionContact()
    /// Which top-level array the scanner is in (`executions`, `steps` or another).
    var list: String?
    var item = ExecutionFacts.Item(sid: "")
    var items: [ExecutionFacts.Item] = []
    var stepAccounts: Set<String> = []

    /// A string member of the top level or of a list item.
    mutating func found(_ key: String, _ value: String, inItem: Bool) {
        if !inItem {
            switch key {
            case "account_sid": account = value
            case "status": status = value
            case "date_created": created = StudioDate.seconds(value)
            case "contact_sid": contact.sid = value
            case "contact_channel_address": contact.address = value
            default: break
            }
            return
        }
        switch (list, key) {
        case ("executions", "sid"): item.sid = value
        case ("executions", "status"): item.status = value
        case ("executions", "account_sid"): item.account = value
        case ("executions", "date_created"): item.created = StudioDate.seconds(value)
        case ("executions", "contact_sid"): item.contact.sid = value
        case ("executions", "contact_channel_address"): item.contact.address = value
        case ("steps", "account_sid"): stepAccounts.insert(value)
        default: break
        }
    }

    mutating func itemEnded() {
        if list == "executions", !item.sid.isEmpty { items.append(item) }
        item = ExecutionFacts.Item(sid: "")
    }

    /// Top-level `account_sid`, or the one every execution of a page shares (a mixed page cannot
    /// be attributed to one account), or the one every step shares.
    var result: ExecutionFacts {
        var facts = ExecutionFacts(account: account, status: status, created: created, contact: contact, items: items)
        let accounts = Set(items.compactMap(\.account))
        if facts.account == nil, accounts.count == 1 { facts.account = accounts.first }
        if accounts.count > 1 { facts.account = nil }
        if facts.account == nil, stepAccounts.count == 1 { facts.account = stepAccounts.first }
        return facts
    }
}

private struct MalformedJSON: Error {}

/// What a value means to the rewriter, from where it sits.
private enum Role: Equatable {
    case root, links, meta, metaKey, list, listItem, url, opaque
    /// A member the cache learns from (`account_sid`, `status`, an item's `sid`): read, copied as is.
    case fact(key: String, inItem: Bool)
}

private struct Scanner {
    let input: UnsafeBufferPointer<UInt8>
    let rules: URLRewrite
    var index = 0
    var output: [UInt8] = []
    var facts = FactsGatherer()

    init(input: UnsafeBufferPointer<UInt8>, rules: URLRewrite) {
        self.input = input
        self.rules = rules
        output.reserveCapacity(input.count + 256)
    }

    mutating func document() throws -> [UInt8] {
        copyWhitespace()
        guard peek() == UInt8(ascii: "{") else { throw MalformedJSON() }
        try value(.root)
        copyWhitespace()
        guard index == input.count else { throw MalformedJSON() }
        return output
    }

    private func peek() -> UInt8? { index < input.count ? input[index] : nil }

    private mutating func copyWhitespace() {
        let start = index
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        copy(start..<index)
    }

    /// Appends input bytes as one block copy (appending a Slice goes byte by byte).
    private mutating func copy(_ range: Range<Int>) {
        output.append(contentsOf: UnsafeBufferPointer(rebasing: input[range]))
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard peek() == byte else { throw MalformedJSON() }
        output.append(byte)
        index += 1
    }

    private mutating func value(_ role: Role) throws {
        switch (role, peek()) {
        case (.root, UInt8(ascii: "{")), (.links, UInt8(ascii: "{")), (.meta, UInt8(ascii: "{")),
            (.listItem, UInt8(ascii: "{")):
            try object(role)
        case (.list, UInt8(ascii: "[")):
            try array()
        case (.url, UInt8(ascii: "\"")), (.metaKey, UInt8(ascii: "\"")):
            let token = try stringToken()
            let text = decode(token)
            let replacement =
                role == .url
                ? rules.rewrite(text) : (rules.engagementView && text == "executions" ? "engagements" : nil)
            if let replacement { output.append(contentsOf: JSONText.quoted(replacement).utf8) } else { copy(token) }
        case (.fact(let key, let inItem), UInt8(ascii: "\"")):
            let token = try stringToken()
            facts.found(key, decode(token), inItem: inItem)
            copy(token)
        default:
            let start = index
            try skipValue()
            copy(start..<index)
        }
    }

    private mutating func object(_ role: Role) throws {
        try expect(UInt8(ascii: "{"))
        copyWhitespace()
        if peek() == UInt8(ascii: "}") { return try expect(UInt8(ascii: "}")) }
        while true {
            let keyToken = try stringToken()
            let key = decode(keyToken)
            if let renamed = renamed(key, in: role) {
                output.append(contentsOf: JSONText.quoted(renamed).utf8)
            } else {
                copy(keyToken)
            }
            copyWhitespace()
            try expect(UInt8(ascii: ":"))
            copyWhitespace()
            try value(childRole(of: key, in: role))
            copyWhitespace()
            if peek() == UInt8(ascii: ",") {
                try expect(UInt8(ascii: ","))
                copyWhitespace()
                continue
            }
            if role == .listItem { facts.itemEnded() }
            return try expect(UInt8(ascii: "}"))
        }
    }

    private mutating func array() throws {
        try expect(UInt8(ascii: "["))
        copyWhitespace()
        if peek() == UInt8(ascii: "]") { return try expect(UInt8(ascii: "]")) }
        while true {
            try value(.listItem)
            copyWhitespace()
            if peek() == UInt8(ascii: ",") {
                try expect(UInt8(ascii: ","))
                copyWhitespace()
                continue
            }
            return try expect(UInt8(ascii: "]"))
        }
    }

    private mutating func childRole(of key: String, in role: Role) -> Role {
        switch role {
        case .root:
            switch key {
            case "url": return .url
            case "links": return .links
            case "meta": return .meta
            case "account_sid", "status", "date_created", "contact_sid", "contact_channel_address":
                return .fact(key: key, inItem: false)
            default:
                guard peekIsArray() else { return .opaque }
                facts.list = key
                return .list
            }
        case .listItem:
            switch key {
            case "url": return .url
            case "links": return .links
            case "sid", "status", "account_sid", "date_created", "contact_sid", "contact_channel_address":
                return .fact(key: key, inItem: true)
            default: return .opaque
            }
        case .links:
            return .url
        case .meta:
            return key == "key" ? .metaKey : key.hasSuffix("url") ? .url : .opaque
        default:
            return .opaque
        }
    }

    private func peekIsArray() -> Bool { peek() == UInt8(ascii: "[") }

    /// Engagement view key renames (docs/ARCHITECTURE.md); nil keeps the key's original bytes.
    private func renamed(_ key: String, in role: Role) -> String? {
        guard rules.engagementView else { return nil }
        switch (role, key) {
        case (.root, "executions"): return "engagements"
        case (.root, "execution_sid"), (.listItem, "execution_sid"): return "engagement_sid"
        case (.links, "execution_context"): return "engagement_context"
        default: return nil
        }
    }

    /// The range of a string token, quotes included.
    private mutating func stringToken() throws -> Range<Int> {
        guard peek() == UInt8(ascii: "\"") else { throw MalformedJSON() }
        let start = index
        index += 1
        while index < input.count {
            switch input[index] {
            case UInt8(ascii: "\""):
                index += 1
                return start..<index
            case UInt8(ascii: "\\"):
                // RFC 8259 §7: only these escapes, and \u takes exactly four hex digits. Anything
                // else would be decoded into text the upstream never sent.
                guard index + 1 < input.count else { throw MalformedJSON() }
                switch input[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    guard index + 6 <= input.count, input[(index + 2)..<(index + 6)].allSatisfy(Self.isHexDigit) else {
                        throw MalformedJSON()
                    }
                    index += 6
                default:
                    throw MalformedJSON()
                }
            case 0..<0x20:
                throw MalformedJSON()
            default:
                index += 1
            }
        }
        throw MalformedJSON()
    }

    /// Skips one value of any kind without recursion (depth is only counted).
    private mutating func skipValue() throws {
        var depth = 0
        repeat {
            guard let byte = peek() else { throw MalformedJSON() }
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard depth > 0 else { throw MalformedJSON() }
                depth -= 1
                index += 1
            case UInt8(ascii: "\""):
                _ = try stringToken()
            case UInt8(ascii: ","), UInt8(ascii: ":"), 0x20, 0x0A, 0x0D, 0x09:
                guard depth > 0 else { throw MalformedJSON() }
                index += 1
            default:
                // number, true, false, null: a run of their characters
                let start = index
                while let next = peek(), Self.scalarBytes[Int(next)] { index += 1 }
                guard index > start else { throw MalformedJSON() }
            }
        } while depth > 0
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66)
    }

    private static let scalarBytes: [Bool] = (0...255).map { byte in
        "0123456789+-.eEtruefalsn".utf8.contains(UInt8(byte))
    }

    /// The text of a string token (escapes resolved).
    private func decode(_ token: Range<Int>) -> String {
        let body = input[(token.lowerBound + 1)..<(token.upperBound - 1)]
        guard body.contains(UInt8(ascii: "\\")) else { return String(decoding: body, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var bytes: [UInt8] = []
        var i = body.startIndex
        func flush() {
            scalars.append(contentsOf: String(decoding: bytes, as: UTF8.self).unicodeScalars)
            bytes.removeAll()
        }
        while i < body.endIndex {
            let byte = body[i]
            guard byte == UInt8(ascii: "\\"), i + 1 < body.endIndex else {
                bytes.append(byte)
                i += 1
                continue
            }
            flush()
            let escape = body[i + 1]
            i += 2
            switch escape {
            case UInt8(ascii: "b"): scalars.append("\u{8}")
            case UInt8(ascii: "f"): scalars.append("\u{c}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                guard i + 4 <= body.endIndex,
                    let unit = UInt32(String(decoding: body[i..<(i + 4)], as: UTF8.self), radix: 16)
                else { break }
                i += 4
                if (0xD800..<0xDC00).contains(unit), i + 6 <= body.endIndex, body[i] == UInt8(ascii: "\\"),
                    body[i + 1] == UInt8(ascii: "u"),
                    let low = UInt32(String(decoding: body[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16),
                    (0xDC00..<0xE000).contains(low)
                {
                    i += 6
                    scalars.append(Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)) ?? "\u{FFFD}")
                } else {
                    scalars.append(Unicode.Scalar(unit) ?? "\u{FFFD}")
                }
            default: scalars.append(Unicode.Scalar(escape))
            }
        }
        flush()
        return String(scalars)
    }
}
