import Glibc

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
    /// Empty lines skipped before the current request line (bounded by `limits.maxEmptyLines`).
    private var emptyLines = 0

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
        // RFC 9112 §2.2: ignore empty lines before a request line, but only a few: they are not a
        // request, and a connection sending nothing else must not live forever.
        var skip = 0
        while skip + 1 < bytes.count, bytes[skip] == ByteClass.cr, bytes[skip + 1] == ByteClass.lf {
            skip += 2
            emptyLines += 1
            if emptyLines > limits.maxEmptyLines {
                return fail(.badRequest("too many empty lines before the request line"))
            }
        }
        if skip > 0 {
            let (consumed, event) = parseHead(
                UnsafeRawBufferPointer(rebasing: bytes[skip...]), scanned: max(0, scanned - skip))
            return (consumed + skip, event)
        }

        // Look for the blank line ending the head, only in bytes not scanned before.
        var end: Int? = nil
        var index = max(0, scanned)
        var firstLineEnd: Int? = nil
        while let lf = Self.find(ByteClass.lf, in: bytes, from: index, to: bytes.count) {
            guard lf > 0, bytes[lf - 1] == ByteClass.cr else { return fail(.badRequest("bare LF")) }
            if firstLineEnd == nil { firstLineEnd = lf }
            if lf >= 3, bytes[lf - 2] == ByteClass.lf, bytes[lf - 3] == ByteClass.cr {
                end = lf + 1
                break
            }
            index = lf + 1
        }
        guard let headEnd = end else {
            // (The empty-line count carries on until this head is complete.)
            let lineEnd = firstLineEnd ?? Self.find(ByteClass.lf, in: bytes, from: 0, to: bytes.count)
            if lineEnd == nil, bytes.count > limits.maxRequestLine { return fail(.uriTooLong) }
            if bytes.count > limits.maxRequestLine + limits.maxHeaderBytes { return fail(.headersTooLarge) }
            state = .head(scanned: bytes.count)
            return (0, .needMoreData)
        }
        emptyLines = 0
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

    private enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
    }

    private func parseHeadLines(_ head: UnsafeRawBufferPointer) -> Result<(HTTPRequest, Framing, Bool), HTTPParseError>
    {
        // Lines end in CRLF (parseHead refused bare LFs; a CR anywhere else fails the byte checks
        // below). The head ends with the empty line, so it holds at least two LFs.
        let firstLF = Self.find(ByteClass.lf, in: head, from: 0, to: head.count)!
        let requestLine = 0..<(firstLF - 1)
        if requestLine.count > limits.maxRequestLine { return .failure(.uriTooLong) }
        if head.count - requestLine.count > limits.maxHeaderBytes { return .failure(.headersTooLarge) }
        // A field line is at least 4 bytes (`a:` CRLF): only a head this long can hold too many,
        // so the usual head is not scanned an extra time to count them.
        if head.count - firstLF > 4 * limits.maxHeaderFields {
            var fieldCount = -1  // every LF ends a line; the empty line is not a field
            var lineEnd = firstLF
            while let lf = Self.find(ByteClass.lf, in: head, from: lineEnd + 1, to: head.count) {
                fieldCount += 1
                lineEnd = lf
            }
            if fieldCount > limits.maxHeaderFields { return .failure(.headersTooLarge) }
        }

        guard var request = parseRequestLine(UnsafeRawBufferPointer(rebasing: head[requestLine])) else {
            return .failure(.badRequest("malformed request line"))
        }
        guard request.version.major == 1, request.version.minor <= 1 else { return .failure(.versionNotSupported) }

        // The fields are checked on the raw bytes and copied, as `name:value` lines, straight into
        // the one string the request keeps; what framing depends on is read on the way.
        var facts = FramingFacts()
        var failure: HTTPParseError? = nil
        let fieldLines = FieldLines.make(capacity: head.count - firstLF) { lines in
            var written = 0
            var lineStart = firstLF + 1
            while lineStart < head.count - 2 {  // the last two bytes are the empty line
                let lineEnd = Self.find(ByteClass.lf, in: head, from: lineStart, to: head.count)!
                let line = UnsafeRawBufferPointer(rebasing: head[lineStart..<(lineEnd - 1)])
                guard let (name, value) = parseField(line, failure: &failure) else { return 0 }
                facts.note(name: name, value: value)
                func copy(_ part: UnsafeRawBufferPointer) {
                    guard let base = part.baseAddress else { return }
                    memcpy(lines.baseAddress! + written, base, part.count)
                    written += part.count
                }
                copy(name)
                lines[written] = UInt8(ascii: ":")
                written += 1
                copy(value)
                lines[written] = UInt8(ascii: "\n")
                written += 1
                lineStart = lineEnd + 1
            }
            return written
        }
        if let failure { return .failure(failure) }
        request.setFieldLines(fieldLines, connection: facts.connection)
        switch frame(facts, version: request.version) {
        case .failure(let error): return .failure(error)
        case .success(let (framing, expectsContinue)): return .success((request, framing, expectsContinue))
        }
    }

    /// The first `byte` in `bytes[from..<to]` (memchr: heads are scanned per request).
    @inline(__always) static func find(_ byte: UInt8, in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let base = bytes.baseAddress, let found = memchr(base + from, Int32(byte), to - from) else {
            return nil
        }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// method SP request-target SP HTTP-version, nothing more.
    private func parseRequestLine(_ line: UnsafeRawBufferPointer) -> HTTPRequest? {
        guard let firstSpace = Self.find(ByteClass.space, in: line, from: 0, to: line.count), firstSpace > 0,
            let secondSpace = Self.find(ByteClass.space, in: line, from: firstSpace + 1, to: line.count),
            secondSpace > firstSpace + 1
        else { return nil }
        for index in 0..<firstSpace where !ByteClass.isToken(line[index]) { return nil }
        guard
            ByteClass.allInASCIIRange(
                UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)..<secondSpace]), from: 0x21)
        else { return nil }
        let version = UnsafeRawBufferPointer(rebasing: line[(secondSpace + 1)...])
        guard version.count == 8, memcmp(version.baseAddress!, "HTTP/", 5) == 0,
            let major = digit(version[5]), version[6] == UInt8(ascii: "."), let minor = digit(version[7])
        else { return nil }
        return HTTPRequest(
            method: Self.method(UnsafeRawBufferPointer(rebasing: line[0..<firstSpace])),
            target: String(decoding: line[(firstSpace + 1)..<secondSpace], as: UTF8.self),
            version: HTTPVersion(major: major, minor: minor), fieldLines: .none)
    }

    /// GET and POST are most of the traffic: named without decoding a string.
    private static func method(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod {
        if bytes.count == 3, memcmp(bytes.baseAddress!, "GET", 3) == 0 { return .get }
        if bytes.count == 4, memcmp(bytes.baseAddress!, "POST", 4) == 0 { return .post }
        return HTTPMethod(String(decoding: bytes, as: UTF8.self))
    }

    private func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }

    /// field-name ":" OWS field-value OWS → the name and the value without OWS, as views of `line`;
    /// nil with `failure` set when the line is malformed.
    private func parseField(_ line: UnsafeRawBufferPointer, failure: inout HTTPParseError?) -> (
        name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer
    )? {
        if let first = line.first, first == ByteClass.space || first == ByteClass.tab {
            failure = .badRequest("obsolete line folding")
            return nil
        }
        guard let colon = Self.find(ByteClass.colon, in: line, from: 0, to: line.count), colon > 0 else {
            failure = .badRequest("header line without a name")
            return nil
        }
        for index in 0..<colon where !ByteClass.isToken(line[index]) {
            failure = .badRequest("invalid character in header name")
            return nil
        }
        var valueStart = colon + 1
        var valueEnd = line.count
        while valueStart < valueEnd, line[valueStart] == ByteClass.space || line[valueStart] == ByteClass.tab {
            valueStart += 1
        }
        while valueEnd > valueStart, line[valueEnd - 1] == ByteClass.space || line[valueEnd - 1] == ByteClass.tab {
            valueEnd -= 1
        }
        // Visible ASCII and spaces are checked a word at a time; tabs and obs-text byte by byte.
        if !ByteClass.allInASCIIRange(UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd]), from: 0x20) {
            for index in valueStart..<valueEnd where !ByteClass.isFieldValue(line[index]) {
                failure = .badRequest("invalid character in header value")
                return nil
            }
        }
        return (
            UnsafeRawBufferPointer(rebasing: line[0..<colon]),
            UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
        )
    }

    /// What framing depends on, counted while the fields are read (every request).
    private struct FramingFacts {
        var hosts = 0
        var transferEncodings: [String] = []
        var lengths: [String] = []
        var expect: String? = nil
        /// Not framing, but read in the same pass: whether the connection stays open.
        var connection = HTTPRequest.ConnectionOptions()

        mutating func note(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
            switch name.count {
            case 4 where Self.named(name, "host"): hosts += 1
            case 10 where Self.named(name, "connection"): connection.note(value)
            case 6 where Self.named(name, "expect"): expect = expect ?? String(decoding: value, as: UTF8.self)
            case 14 where Self.named(name, "content-length"): lengths.append(String(decoding: value, as: UTF8.self))
            case 17 where Self.named(name, "transfer-encoding"):
                transferEncodings.append(String(decoding: value, as: UTF8.self))
            default: return
            }
        }

        private static func named(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
            for index in 0..<bytes.count where bytes[index] | 0x20 != lowercase.utf8Start[index] { return false }
            return true
        }
    }

    /// Decides how the body is delimited (RFC 9112 §6), refusing every ambiguous combination, and
    /// whether the client waits for a 100 Continue.
    private func frame(_ facts: FramingFacts, version: HTTPVersion) -> Result<
        (Framing, expectsContinue: Bool), HTTPParseError
    > {
        let (hosts, transferEncodings, lengths, expect) = (
            facts.hosts, facts.transferEncodings, facts.lengths, facts.expect
        )
        if hosts > 1 || (version == .http11 && hosts == 0) {
            return .failure(.badRequest("exactly one Host header is required"))
        }
        let framing: Framing
        if !transferEncodings.isEmpty {
            guard lengths.isEmpty else { return .failure(.badRequest("both Content-Length and Transfer-Encoding")) }
            guard version == .http11 else {
                return .failure(.badRequest("Transfer-Encoding in an HTTP/1.0 request"))
            }
            guard transferEncodings.count == 1, asciiCaseInsensitiveEquals(transferEncodings[0], "chunked") else {
                return .failure(.badRequest("unsupported Transfer-Encoding"))
            }
            framing = .chunked
        } else if let lengthText = lengths.first {
            guard lengths.count == 1 else { return .failure(.badRequest("more than one Content-Length")) }
            guard !lengthText.isEmpty, lengthText.utf8.count <= 18,
                lengthText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let length = Int(lengthText)
            else { return .failure(.badRequest("invalid Content-Length")) }
            if length > limits.maxBodyBytes { return .failure(.bodyTooLarge) }
            framing = length == 0 ? .none : .length(length)
        } else {
            framing = .none
        }
        guard let expect else { return .success((framing, false)) }
        guard asciiCaseInsensitiveEquals(expect, "100-continue") else { return .failure(.expectationFailed) }
        return .success((framing, version == .http11 && framing != .none))
    }
}
