import Glibc

/// Writes a response head + body as HTTP/1.1 bytes.
public enum ResponseSerializer {
    /// - Parameters:
    ///   - headOnly: the request was HEAD: send Content-Length but no body.
    ///   - close: announce `Connection: close`.
    ///   - keepAlive: announce `Connection: keep-alive` (an HTTP/1.0 client that asked to keep the
    ///     connection keeps it only if the answer says so, RFC 9112 §9.3); `close` wins.
    ///   - date: the cached IMF-fixdate string for the Date header.
    public static func serialize(
        _ response: HTTPResponse, headOnly: Bool, close: Bool, keepAlive: Bool = false, date: String
    ) -> [UInt8] {
        var out: [UInt8] = []
        serialize(response, into: &out, headOnly: headOnly, close: close, keepAlive: keepAlive, date: date)
        return out
    }

    /// Appends head and body to `out`.
    public static func serialize(
        _ response: HTTPResponse, into out: inout [UInt8], headOnly: Bool, close: Bool, keepAlive: Bool = false,
        date: String
    ) {
        if serializeHead(response, into: &out, headOnly: headOnly, close: close, keepAlive: keepAlive, date: date) {
            out.append(contentsOf: response.body)
        }
    }

    /// Appends the head to `out` (the connection's output buffer), composed in one scratch
    /// buffer: one copy whatever the field count. Returns whether `response.body` follows it.
    public static func serializeHead(
        _ response: HTTPResponse, into out: inout [UInt8], headOnly: Bool, close: Bool, keepAlive: Bool = false,
        date: String
    ) -> Bool {
        let statusLine =
            (response.status == 200 ? ok : statusLines[response.status])
            ?? Array("HTTP/1.1 \(response.status) \(response.status.reasonPhrase)\r\n".utf8)
        let noBody = response.status.forbidsBody
        // An upper bound: line breaks are dropped, never added.
        var capacity =
            statusLine.count
            + "Date: \r\nContent-Length: 18446744073709551615\r\nConnection: keep-alive\r\n\r\n".utf8.count
            + date.utf8.count
        for (name, value) in response.headers { capacity += name.utf8.count + value.utf8.count + 4 }
        capacity +=
            response.rendered.0.bytes.count + response.rendered.1.bytes.count
            + "Age: 18446744073709551615\r\n".utf8.count
            + (response.inlineField.map { $0.name.utf8CodeUnitCount + 44 } ?? 0)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { scratch in
            var head = HeadWriter(buffer: scratch)
            statusLine.withUnsafeBufferPointer { head.write($0) }
            for (name, value) in response.headers where !serverOwned(name) {
                head.field(name, value)  // the server owns framing; a handler cannot smuggle its own
            }
            response.rendered.0.bytes.withUnsafeBufferPointer { head.write($0) }
            if let inline = response.inlineField {
                head.write(inline.name)
                head.write(": ")
                inline.withValue { head.write($0.bindMemory(to: UInt8.self)) }
                head.write("\r\n")
            }
            response.rendered.1.bytes.withUnsafeBufferPointer { head.write($0) }
            // The server's own fields: literals and numbers, nothing to check.
            if let age = response.age { head.number("Age: ", age) }
            head.write("Date: ")
            head.trusted(date)
            head.write("\r\n")
            if !noBody { head.number("Content-Length: ", response.body.count) }
            if close {
                head.write("Connection: close\r\n")
            } else if keepAlive {
                head.write("Connection: keep-alive\r\n")
            }
            head.write("\r\n")
            out.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[..<head.count]))
        }
        return !headOnly && !noBody && !response.body.isEmpty
    }

    private static let ok = Array("HTTP/1.1 200 OK\r\n".utf8)
    private static let statusLines: [HTTPStatus: [UInt8]] = Dictionary(
        uniqueKeysWithValues: ([200, 201, 204, 304, 400, 401, 404, 405, 429, 500, 502, 503, 504] as [HTTPStatus]).map {
            ($0, Array("HTTP/1.1 \($0) \($0.reasonPhrase)\r\n".utf8))
        })

    static func serverOwned(_ name: String) -> Bool {
        guard let first = name.utf8.first.map({ $0 | 0x20 }),
            first == UInt8(ascii: "c") || first == UInt8(ascii: "t") || first == UInt8(ascii: "d")
        else {
            return false
        }
        return asciiCaseInsensitiveEquals(name, "Content-Length") || asciiCaseInsensitiveEquals(name, "Connection")
            || asciiCaseInsensitiveEquals(name, "Transfer-Encoding") || asciiCaseInsensitiveEquals(name, "Date")
    }

    /// Fills the scratch buffer; fields lose any CR or LF a handler let into them (no response splitting).
    private struct HeadWriter {
        let buffer: UnsafeMutableBufferPointer<UInt8>
        var count = 0

        mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
            guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
            memcpy(buffer.baseAddress! + count, source, bytes.count)
            count += bytes.count
        }

        mutating func write(_ literal: StaticString) {
            write(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        }

        mutating func field(_ name: String, _ value: String) {
            text(name)
            write(": ")
            text(value)
            write("\r\n")
        }

        /// Text the server made itself (the cached Date string): copied without the line-break check.
        mutating func trusted(_ text: String) {
            text.withUTF8Bytes { write($0) }
        }

        /// `prefix`, the decimal digits of `value`, CRLF.
        mutating func number(_ prefix: StaticString, _ value: Int) {
            write(prefix)
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 20 digits
            withUnsafeMutableBytes(of: &digits) { digits in
                var value = UInt(max(0, value))
                var start = digits.count
                repeat {
                    start -= 1
                    digits[start] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                } while value > 0
                write(UnsafeBufferPointer(rebasing: digits.bindMemory(to: UInt8.self)[start...]))
            }
            write("\r\n")
        }

        private mutating func text(_ text: String) {
            text.withUTF8Bytes { bytes in
                guard ByteClass.containsLineBreak(bytes) else { return write(bytes) }
                for byte in bytes where byte != 0x0D && byte != 0x0A {
                    buffer[count] = byte
                    count += 1
                }
            }
        }
    }

    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
