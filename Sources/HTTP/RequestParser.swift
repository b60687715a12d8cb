/// Incremental HTTP/1.1 request parser over raw bytes (RFC 9112), strict about framing:
/// anything that two parsers could read differently (CL+TE, duplicate Content-Length, obs-fold,
/// bare CR or LF, whitespace before a colon) is refused rather than guessed at.
///
/// Feed it the unconsumed bytes of the connection; it reports how many it consumed.
/// While the head is incomplete it consumes nothing, so the bytes stay where they are.
public struct RequestParser: Sendable {
    public enum Event: Sendable {
        case needMoreData
        /// The head is complete and a body follows; `expectsContinue` asks for a 100 Continue.
        case headReceived(expectsContinue: Bool)
        case request(HTTPRequest)
        case failed(HTTPParseError)
    }

    private enum State: Sendable {
        case head(scanned: Int)
        case fixedBody(HTTPRequest, remaining: Int)
        case chunkedBody(HTTPRequest, ChunkedDecoder)
        case failed
    }

    public let limits: HTTPLimits
    private var state: State = .head(scanned: 0)

    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    /// True between requests: no partial request has been received.
    public func isIdle(bufferedBytes: Int) -> Bool {
        if case .head = state { return bufferedBytes == 0 }
        return false
    }

    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, event: Event) {
        switch state {
        case .failed:
            return (0, .failed(.badRequest("connection already failed")))
        case .head(let scanned):
            return parseHead(bytes, scanned: scanned)
        case .fixedBody(var request, let remaining):
            let take = min(remaining, bytes.count)
            request.body.append(contentsOf: bytes[0..<take])
            if take == remaining {
                state = .head(scanned: 0)
                return (take, .request(request))
            }
            state = .fixedBody(request, remaining: remaining - take)
            return (take, .needMoreData)
        case .chunkedBody(var request, var decoder):
            let (consumed, result) = decoder.decode(bytes, into: &request.body)
            switch result {
            case .needMoreData:
                state = .chunkedBody(request, decoder)
                return (consumed, .needMoreData)
            case .done:
                state = .head(scanned: 0)
                return (consumed, .request(request))
            case .failed(let error):
                state = .failed
                return (consumed, .failed(error))
            }
        }
    }

    private mutating func fail(_ error: HTTPParseError) -> (consumed: Int, event: Event) {
        state = .failed
        return (0, .failed(error))
    }

    private mutating func parseHead(_ bytes: UnsafeRawBufferPointer, scanned: Int) -> (consumed: Int, event: Event) {
        // RFC 9112 §2.2: ignore empty lines before a request line.
        var skip = 0
        while skip + 1 < bytes.count, bytes[skip] == ByteClass.cr, bytes[skip + 1] == ByteClass.lf { skip += 2 }
        if skip > 0 {
            let (consumed, event) = parseHead(UnsafeRawBufferPointer(rebasing: bytes[skip...]), scanned: max(0, scanned - skip))
            return (consumed + skip, event)
        }

        // Look for the blank line ending the head, only in bytes not scanned before.
        var end: Int? = nil
        var index = max(0, scanned)
        var firstLineEnd: Int? = nil
        while index < bytes.count {
            if bytes[index] == ByteClass.lf {
                guard index > 0, bytes[index - 1] == ByteClass.cr else { return fail(.badRequest("bare LF")) }
                if firstLineEnd == nil { firstLineEnd = index }
                if index >= 3, bytes[index - 2] == ByteClass.lf, bytes[index - 3] == ByteClass.cr {
                    end = index + 1
                    break
                }
            }
            index += 1
        }
        guard let headEnd = end else {
            let lineEnd = firstLineEnd ?? bytes.firstIndex(of: ByteClass.lf)
            if lineEnd == nil, bytes.count > limits.maxRequestLine { return fail(.uriTooLong) }
            if bytes.count > limits.maxRequestLine + limits.maxHeaderBytes { return fail(.headersTooLarge) }
            state = .head(scanned: bytes.count)
            return (0, .needMoreData)
        }
        switch parseHeadLines(UnsafeRawBufferPointer(rebasing: bytes[0..<headEnd])) {
        case .failure(let error):
            return fail(error)
        case .success(let (request, framing, expectsContinue)):
            switch framing {
            case .none:
                state = .head(scanned: 0)
                return (headEnd, .request(request))
            case .length(let length):
                state = .fixedBody(request, remaining: length)
                return (headEnd, .headReceived(expectsContinue: expectsContinue))
            case .chunked:
                state = .chunkedBody(request, ChunkedDecoder(limits: limits))
                return (headEnd, .headReceived(expectsContinue: expectsContinue))
            }
        }
    }

    private enum Framing: Equatable { case none, length(Int), chunked }

    private func parseHeadLines(_ head: UnsafeRawBufferPointer) -> Result<(HTTPRequest, Framing, Bool), HTTPParseError> {
        // Lines end in CRLF (parseHead refused bare LFs; a CR anywhere else fails the byte checks
        // below). The head ends with the empty line, so it holds at least two LFs.
        let firstLF = head.firstIndex(of: ByteClass.lf)!
        let requestLine = 0..<(firstLF - 1)
        var fieldCount = -2  // every LF ends a line; the request line and the empty line are not fields
        for byte in head where byte == ByteClass.lf { fieldCount += 1 }
        if requestLine.count > limits.maxRequestLine { return .failure(.uriTooLong) }
        if head.count - requestLine.count > limits.maxHeaderBytes { return .failure(.headersTooLarge) }
        if fieldCount > limits.maxHeaderFields { return .failure(.headersTooLarge) }

        guard var request = parseRequestLine(UnsafeRawBufferPointer(rebasing: head[requestLine])) else {
            return .failure(.badRequest("malformed request line"))
        }
        guard request.version.major == 1, request.version.minor <= 1 else { return .failure(.versionNotSupported) }

        var fields: [HTTPHeaders.Field] = []
        fields.reserveCapacity(fieldCount)
        var lineStart = firstLF + 1
        while lineStart < head.count - 2 {  // the last two bytes are the empty line
            var lineEnd = lineStart
            while head[lineEnd] != ByteClass.lf { lineEnd += 1 }
            switch parseField(UnsafeRawBufferPointer(rebasing: head[lineStart..<(lineEnd - 1)])) {
            case .success(let field): fields.append(field)
            case .failure(let error): return .failure(error)
            }
            lineStart = lineEnd + 1
        }
        request.headers = HTTPHeaders(fields)
        let framing: Framing
        switch frame(request) {
        case .failure(let error): return .failure(error)
        case .success(let value): framing = value
        }
        var expectsContinue = false
        if let expect = request.headers["Expect"] {
            guard asciiCaseInsensitiveEquals(expect, "100-continue") else { return .failure(.expectationFailed) }
            expectsContinue = request.version == .http1_1 && framing != .none
        }
        return .success((request, framing, expectsContinue))
    }

    /// method SP request-target SP HTTP-version, nothing more.
    private func parseRequestLine(_ line: UnsafeRawBufferPointer) -> HTTPRequest? {
        guard let firstSpace = line.firstIndex(of: ByteClass.space), firstSpace > 0,
              line[0..<firstSpace].allSatisfy(ByteClass.isToken)
        else { return nil }
        let rest = line[(firstSpace + 1)...]
        guard let secondSpace = rest.firstIndex(of: ByteClass.space), secondSpace > rest.startIndex,
              line[rest.startIndex..<secondSpace].allSatisfy(ByteClass.isTargetByte)
        else { return nil }
        let version = line[(secondSpace + 1)...]
        guard version.count == 8, version.starts(with: "HTTP/".utf8),
              let major = digit(version[version.startIndex + 5]), version[version.startIndex + 6] == UInt8(ascii: "."),
              let minor = digit(version[version.startIndex + 7])
        else { return nil }
        return HTTPRequest(
            method: String(decoding: line[0..<firstSpace], as: UTF8.self),
            target: String(decoding: line[rest.startIndex..<secondSpace], as: UTF8.self),
            version: HTTPVersion(major: major, minor: minor)
        )
    }

    private func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }

    /// field-name ":" OWS field-value OWS
    private func parseField(_ line: UnsafeRawBufferPointer) -> Result<HTTPHeaders.Field, HTTPParseError> {
        if let first = line.first, first == ByteClass.space || first == ByteClass.tab {
            return .failure(.badRequest("obsolete line folding"))
        }
        guard let colon = line.firstIndex(of: ByteClass.colon), colon > 0 else {
            return .failure(.badRequest("header line without a name"))
        }
        guard line[0..<colon].allSatisfy(ByteClass.isToken) else {
            return .failure(.badRequest("invalid character in header name"))
        }
        var valueStart = colon + 1
        var valueEnd = line.count
        while valueStart < valueEnd, line[valueStart] == ByteClass.space || line[valueStart] == ByteClass.tab { valueStart += 1 }
        while valueEnd > valueStart, line[valueEnd - 1] == ByteClass.space || line[valueEnd - 1] == ByteClass.tab { valueEnd -= 1 }
        let value = line[valueStart..<valueEnd]
        guard value.allSatisfy(ByteClass.isFieldValue) else {
            return .failure(.badRequest("invalid character in header value"))
        }
        return .success((String(decoding: line[0..<colon], as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    /// Decides how the body is delimited (RFC 9112 §6), refusing every ambiguous combination.
    private func frame(_ request: HTTPRequest) -> Result<Framing, HTTPParseError> {
        // One pass over the fields (every request comes here): count what framing depends on.
        var hosts = 0
        var transferEncodings: [String] = []
        var lengths: [String] = []
        for (name, value) in request.headers {
            switch name.utf8.count {
            case 4 where asciiCaseInsensitiveEquals(name, "Host"): hosts += 1
            case 14 where asciiCaseInsensitiveEquals(name, "Content-Length"): lengths.append(value)
            case 17 where asciiCaseInsensitiveEquals(name, "Transfer-Encoding"): transferEncodings.append(value)
            default: continue
            }
        }
        if hosts > 1 || (request.version == .http1_1 && hosts == 0) {
            return .failure(.badRequest("exactly one Host header is required"))
        }
        if !transferEncodings.isEmpty {
            guard lengths.isEmpty else { return .failure(.badRequest("both Content-Length and Transfer-Encoding")) }
            guard request.version == .http1_1 else { return .failure(.badRequest("Transfer-Encoding in an HTTP/1.0 request")) }
            guard transferEncodings.count == 1, asciiCaseInsensitiveEquals(transferEncodings[0], "chunked") else {
                return .failure(.badRequest("unsupported Transfer-Encoding"))
            }
            return .success(.chunked)
        }
        guard let lengthText = lengths.first else { return .success(.none) }
        guard lengths.count == 1 else { return .failure(.badRequest("more than one Content-Length")) }
        guard !lengthText.isEmpty, lengthText.utf8.count <= 18, lengthText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let length = Int(lengthText)
        else { return .failure(.badRequest("invalid Content-Length")) }
        if length > limits.maxBodyBytes { return .failure(.bodyTooLarge) }
        return .success(length == 0 ? .none : .length(length))
    }
}
