/// Header fields rendered once as bytes (`Name: value\r\n` each), checked when made, so a response
/// can carry them with no per-request serialisation: a cached entry's own fields, or the fixed
/// fields of one cache outcome. The server copies them as they are.
public struct RenderedFields: Sendable, Equatable {
    public let bytes: [UInt8]

    public static let none = RenderedFields(bytes: [])

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// Values lose any CR or LF (no response splitting); framing fields (Content-Length,
    /// Connection, Transfer-Encoding, Date) are the server's and are left out.
    public init(_ fields: HTTPHeaders) {
        var bytes: [UInt8] = []
        for (name, value) in fields where !ResponseSerializer.serverOwned(name) {
            bytes.append(contentsOf: name.utf8.lazy.filter { $0 != 0x0D && $0 != 0x0A })
            bytes.append(contentsOf: ": ".utf8)
            bytes.append(contentsOf: value.utf8.lazy.filter { $0 != 0x0D && $0 != 0x0A })
            bytes.append(contentsOf: "\r\n".utf8)
        }
        self.init(bytes: bytes)
    }

    /// The first value of `name` (ASCII case-insensitive), read from the bytes.
    public func value(_ name: String) -> String? {
        var start = 0
        while start < bytes.count, let end = bytes[start...].firstIndex(of: 0x0A) {
            let line = bytes[start..<(end - 1)]
            if line.count > name.utf8.count + 1, line[start + name.utf8.count] == UInt8(ascii: ":"),
                zip(line, name.utf8).allSatisfy({ asciiCaseInsensitiveEquals($0, $1) })
            {
                return String(decoding: line.dropFirst(name.utf8.count + 2), as: UTF8.self)
            }
            start = end + 1
        }
        return nil
    }

    /// The fields read back (tests, logs, snapshots: never per request).
    public var fields: HTTPHeaders {
        var fields = HTTPHeaders()
        for line in bytes.split(separator: 0x0A) {
            let text = String(decoding: line.dropLast(), as: UTF8.self)  // the CR
            guard let colon = text.firstIndex(of: ":") else { continue }
            fields.add(String(text[..<colon]), String(text[text.index(colon, offsetBy: 2)...]))
        }
        return fields
    }
}
