/// Writes a response head + body as HTTP/1.1 bytes.
public enum ResponseSerializer {
    /// - Parameters:
    ///   - headOnly: the request was HEAD: send Content-Length but no body.
    ///   - close: announce `Connection: close`.
    ///   - date: the cached IMF-fixdate string for the Date header.
    public static func serialize(_ response: HTTPResponse, headOnly: Bool, close: Bool, date: String) -> [UInt8] {
        var out: [UInt8] = []
        serialize(response, into: &out, headOnly: headOnly, close: close, date: date)
        return out
    }

    /// Appends to `out` (the connection's output buffer), so no per-response buffer is made.
    public static func serialize(_ response: HTTPResponse, into out: inout [UInt8], headOnly: Bool, close: Bool, date: String) {
        out.reserveCapacity(out.count + 256 + response.body.count)
        if let line = statusLines[response.status] {
            out.append(contentsOf: line)
        } else {
            out.append(contentsOf: "HTTP/1.1 \(response.status) \(HTTPStatus.reasonPhrase(response.status))\r\n".utf8)
        }
        let noBody = HTTPStatus.forbidsBody(response.status)
        for (name, value) in response.headers {
            // The server owns framing; a handler cannot smuggle its own.
            if serverOwned(name) { continue }
            appendField(&out, name, value)
        }
        appendField(&out, "Date", date)
        if !noBody { appendField(&out, "Content-Length", String(response.body.count)) }
        if close { appendField(&out, "Connection", "close") }
        out.append(contentsOf: "\r\n".utf8)
        if !headOnly && !noBody { out.append(contentsOf: response.body) }
    }

    private static let statusLines: [Int: [UInt8]] = Dictionary(uniqueKeysWithValues: [200, 201, 204, 304, 400, 401, 404, 405, 429, 500, 502, 503, 504].map {
        ($0, Array("HTTP/1.1 \($0) \(HTTPStatus.reasonPhrase($0))\r\n".utf8))
    })

    private static func serverOwned(_ name: String) -> Bool {
        guard let first = name.utf8.first.map({ $0 | 0x20 }), first == UInt8(ascii: "c") || first == UInt8(ascii: "t") || first == UInt8(ascii: "d") else {
            return false
        }
        return asciiCaseInsensitiveEquals(name, "Content-Length") || asciiCaseInsensitiveEquals(name, "Connection")
            || asciiCaseInsensitiveEquals(name, "Transfer-Encoding") || asciiCaseInsensitiveEquals(name, "Date")
    }

    /// Appends one field, dropping any CR/LF a handler let into it (no response splitting).
    private static func appendField(_ out: inout [UInt8], _ name: String, _ value: String) {
        append(&out, name)
        out.append(UInt8(ascii: ":"))
        out.append(UInt8(ascii: " "))
        append(&out, value)
        out.append(0x0D)
        out.append(0x0A)
    }

    /// Copies a name or value without CR or LF (one pass over contiguous bytes for native strings).
    private static func append(_ out: inout [UInt8], _ text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { bytes in
            var start = 0
            for index in 0..<bytes.count where bytes[index] == 0x0D || bytes[index] == 0x0A {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                start = index + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        if done == nil {
            for byte in text.utf8 where byte != 0x0D && byte != 0x0A { out.append(byte) }
        }
    }

    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
