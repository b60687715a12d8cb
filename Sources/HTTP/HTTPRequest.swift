import Glibc

public struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }
    public static let http10 = HTTPVersion(major: 1, minor: 0)
    public static let http11 = HTTPVersion(major: 1, minor: 1)
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A complete request as the parser delivers it: head plus de-chunked body.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var target: String
    public var version: HTTPVersion
    /// Every field as received, one `name:value\n` line each (value without surrounding OWS), in
    /// one buffer: a request costs one allocation for all its fields, and the few lookups a
    /// request needs scan it in place. `headers` reads and writes the same fields as a list.
    private var fieldLines: FieldLines
    /// What the Connection fields say, read once when the fields are set (the server asks per request).
    private var connectionOptions = ConnectionOptions()
    public var body: [UInt8]

    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http11, headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = []
    ) {
        self.init(
            method: method, target: target, version: version, fieldLines: .make(Self.lines(headers)), body: body)
    }

    /// `fieldLines` as the parser made them (names are tokens; values hold no CR or LF).
    init(method: HTTPMethod, target: String, version: HTTPVersion, fieldLines: FieldLines, body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.version = version
        self.fieldLines = fieldLines
        self.body = body
        connectionOptions = Self.connectionOptions(in: self)
    }

    public var headers: HTTPHeaders {
        get {
            var headers = HTTPHeaders()
            forEachField { name, value, _ in
                headers.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
                return false
            }
            return headers
        }
        set {
            fieldLines = .make(Self.lines(newValue))
            connectionOptions = Self.connectionOptions(in: self)
        }
    }

    /// The first value of `name` (ASCII case-insensitive).
    public func field(_ name: String) -> String? {
        var found: String? = nil
        _ = withField(name) { found = String(decoding: $0, as: UTF8.self) }
        return found
    }

    /// Calls `body` with the bytes of the first `name` field's value, read in place; false when
    /// there is no such field.
    public func withField(_ name: String, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        forEachField { fieldName, value, _ in
            guard Self.namesEqual(fieldName, name) else { return false }
            body(value)
            return true
        }
    }

    /// Whether a comma-separated element (OWS-trimmed, not empty) of any `name` field satisfies
    /// `predicate` (Connection, Accept-Encoding): read in place, without splitting into new strings.
    public func containsToken(in name: String, where predicate: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        forEachField { fieldName, value, _ in
            guard Self.namesEqual(fieldName, name) else { return false }
            var start = 0
            while start <= value.count {
                var end = start
                while end < value.count, value[end] != UInt8(ascii: ",") { end += 1 }
                let token = Self.trimmed(UnsafeRawBufferPointer(rebasing: value[start..<end]))
                if !token.isEmpty, predicate(token) { return true }
                start = end + 1
            }
            return false
        }
    }

    /// Calls `body` with each field's name and value (and all the lines), in order, until it returns true.
    @discardableResult
    private func forEachField(
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool
    ) -> Bool {
        fieldLines.withBytes { lines in
            guard let base = lines.baseAddress else { return false }
            var start = 0
            while start < lines.count {
                let end = memchr(base + start, 0x0A, lines.count - start).map { base.distance(to: $0) } ?? lines.count
                if let colon = memchr(base + start, 0x3A, end - start).map({ base.distance(to: $0) }),
                    body(
                        UnsafeRawBufferPointer(rebasing: lines[start..<colon]),
                        UnsafeRawBufferPointer(rebasing: lines[(colon + 1)..<end]), lines)
                {
                    return true
                }
                start = end + 1
            }
            return false
        }
    }

    private static func namesEqual(_ bytes: UnsafeRawBufferPointer, _ name: String) -> Bool {
        guard bytes.count == name.utf8.count, let first = name.utf8.first, asciiCaseInsensitiveEquals(bytes[0], first)
        else { return false }
        return name.withUTF8Bytes { name in
            for index in 0..<name.count where !asciiCaseInsensitiveEquals(bytes[index], name[index]) { return false }
            return true
        }
    }

    /// Without leading and trailing SP and HTAB.
    public static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var (start, end) = (0, bytes.count)
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// Fields written as lines; a CR or LF in a name or value (only a program could put one
    /// there, never the parser) is dropped, so one field stays one line.
    private static func lines(_ headers: HTTPHeaders) -> [UInt8] {
        var lines: [UInt8] = []
        for (name, value) in headers {
            lines += name.utf8.filter { $0 != 0x0D && $0 != 0x0A && $0 != 0x3A }
            lines.append(0x3A)
            lines += trimmedOWS(Substring(value).utf8).filter { $0 != 0x0D && $0 != 0x0A }
            lines.append(0x0A)
        }
        return lines
    }

    /// The target's path and query (without the `?`), split at the first `?`.
    public var pathAndQuery: (path: Substring, query: Substring) { Self.split(target) }

    public static func split(_ target: String) -> (path: Substring, query: Substring) {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (target[...], "") }
        return (target[..<mark], target[target.index(after: mark)...])
    }

    /// Whether the connection may carry another request after this one (RFC 9112 §9.3).
    public var keepAlive: Bool {
        guard connectionOptions.present else { return version == .http11 }
        if connectionOptions.close { return false }
        return version == .http11 || connectionOptions.keepAlive
    }

    /// What the Connection fields say.
    struct ConnectionOptions {
        var present = false
        var close = false
        var keepAlive = false

        /// One Connection field's value.
        mutating func note(_ value: UnsafeRawBufferPointer) {
            present = true
            var start = 0
            while start <= value.count {
                var end = start
                while end < value.count, value[end] != UInt8(ascii: ",") { end += 1 }
                let token = HTTPRequest.trimmed(UnsafeRawBufferPointer(rebasing: value[start..<end]))
                if tokenEquals(token, "close") { close = true }
                if tokenEquals(token, "keep-alive") { keepAlive = true }
                start = end + 1
            }
        }
    }

    /// The fields as the parser read them, with what their Connection fields say (read on the way).
    mutating func setFieldLines(_ lines: FieldLines, connection: ConnectionOptions) {
        fieldLines = lines
        connectionOptions = connection
    }

    private static func connectionOptions(in request: HTTPRequest) -> ConnectionOptions {
        var options = ConnectionOptions()
        request.forEachField { name, value, _ in
            if namesEqual(name, "Connection") { options.note(value) }
            return false
        }
        return options
    }

    /// ASCII case-insensitive comparison of a token with a literal.
    public static func tokenEquals(_ token: UnsafeRawBufferPointer, _ literal: String) -> Bool {
        namesEqual(token, literal)
    }
}
