/// Header fields in the order they arrived; names compare ASCII case-insensitively.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Field = (name: String, value: String)
    public private(set) var fields: [Field]

    public init(_ fields: [Field] = []) { self.fields = fields }

    /// Empty, with room for `capacity` fields (one allocation for a response's few headers).
    public init(capacity: Int) {
        fields = []
        fields.reserveCapacity(capacity)
    }
    public init(dictionaryLiteral elements: (String, String)...) { fields = elements.map { (name: $0.0, value: $0.1) } }

    public var count: Int { fields.count }
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    /// Replaces every field called `name` with one field (added at the end if absent).
    public mutating func set(_ name: String, _ value: String) {
        if let index = fields.firstIndex(where: { asciiCaseInsensitiveEquals($0.name, name) }) {
            fields[index].value = value
            fields = fields.enumerated().filter {
                $0.offset == index || !asciiCaseInsensitiveEquals($0.element.name, name)
            }.map(\.element)
        } else {
            add(name, value)
        }
    }

    public mutating func remove(_ name: String) { fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) } }

    /// The first value of `name`, if any.
    public subscript(_ name: String) -> String? {
        fields.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }

    public func contains(_ name: String) -> Bool {
        fields.contains { asciiCaseInsensitiveEquals($0.name, name) }
    }

    public func values(_ name: String) -> [String] {
        fields.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    /// Comma-separated tokens of every `name` field, lowercased (Connection, Transfer-Encoding).
    public func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }.map { trimmedOWS($0).lowercased() }.filter { !$0.isEmpty }
    }
}

public func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    // O(1) for native strings, and most names differ in length.
    guard a.utf8.count == b.utf8.count else { return false }
    let contiguous = a.utf8.withContiguousStorageIfAvailable { left in
        b.utf8.withContiguousStorageIfAvailable { right in
            for index in 0..<left.count where !asciiCaseInsensitiveEquals(left[index], right[index]) { return false }
            return true
        }
    }
    if let contiguous, let equal = contiguous { return equal }
    return zip(a.utf8, b.utf8).allSatisfy { asciiCaseInsensitiveEquals($0, $1) }
}

@inline(__always) func asciiCaseInsensitiveEquals(_ x: UInt8, _ y: UInt8) -> Bool {
    x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A)
}

func trimmedOWS(_ text: Substring) -> String { String(Substring(trimmedOWS(text.utf8))) }

/// Bytes without leading and trailing optional whitespace (SP and HTAB, RFC 9110 §5.6.3).
public func trimmedOWS(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
    var bytes = bytes
    while bytes.first == UInt8(ascii: " ") || bytes.first == UInt8(ascii: "\t") { bytes = bytes.dropFirst() }
    while bytes.last == UInt8(ascii: " ") || bytes.last == UInt8(ascii: "\t") { bytes = bytes.dropLast() }
    return bytes
}
