/// Decodes a chunked request body (RFC 9112 §7.1) incrementally. Chunk extensions are
/// accepted and ignored; trailer fields are read, checked and dropped.
struct ChunkedDecoder: Sendable {
    enum Result: Sendable {
        case needMoreData
        case done
        case failed(HTTPParseError)
    }

    private enum State: Sendable {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailer(lines: Int, bytes: Int)
    }

    let limits: HTTPLimits
    private var state: State = .size

    init(limits: HTTPLimits) { self.limits = limits }

    mutating func decode(_ bytes: UnsafeRawBufferPointer, into body: inout [UInt8]) -> (consumed: Int, result: Result) {
        var offset = 0
        while true {
            let available = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            switch state {
            case .size:
                switch readLine(available) {
                case .needMoreData: return (offset, .needMoreData)
                case .failed(let error): return (offset, .failed(error))
                case .line(let line, let length):
                    guard let size = parseSize(line) else {
                        return (offset, .failed(.badRequest("invalid chunk size")))
                    }
                    if body.count + size > limits.maxBodyBytes { return (offset, .failed(.bodyTooLarge)) }
                    offset += length
                    state = size == 0 ? .trailer(lines: 0, bytes: 0) : .data(remaining: size)
                }
            case .data(let remaining):
                if available.isEmpty { return (offset, .needMoreData) }
                let take = min(remaining, available.count)
                body.append(contentsOf: available[0..<take])
                offset += take
                state = take == remaining ? .dataEnd : .data(remaining: remaining - take)
            case .dataEnd:
                if available.count < 2 { return (offset, .needMoreData) }
                guard available[0] == ByteClass.cr, available[1] == ByteClass.lf else {
                    return (offset, .failed(.badRequest("chunk data not followed by CRLF")))
                }
                offset += 2
                state = .size
            case .trailer(let lines, let total):
                switch readLine(available) {
                case .needMoreData: return (offset, .needMoreData)
                case .failed(let error): return (offset, .failed(error))
                case .line(let line, let length):
                    offset += length
                    if line.isEmpty { return (offset, .done) }
                    guard lines + 1 <= limits.maxHeaderFields, total + length <= limits.maxHeaderBytes else {
                        return (offset, .failed(.headersTooLarge))
                    }
                    if line.first == ByteClass.space || line.first == ByteClass.tab {
                        return (offset, .failed(.badRequest("obsolete line folding in trailer")))
                    }
                    guard let colon = line.firstIndex(of: ByteClass.colon), colon > line.startIndex,
                        line[line.startIndex..<colon].allSatisfy(ByteClass.isToken),
                        line[(colon + 1)...].allSatisfy(ByteClass.isFieldValue)
                    else { return (offset, .failed(.badRequest("malformed trailer field"))) }
                    state = .trailer(lines: lines + 1, bytes: total + length)
                }
            }
        }
    }

    private enum LineResult {
        case needMoreData
        case failed(HTTPParseError)
        /// The line without its CRLF, and the bytes it used including CRLF.
        case line(Slice<UnsafeRawBufferPointer>, Int)
    }

    private func readLine(_ bytes: UnsafeRawBufferPointer) -> LineResult {
        guard let lf = bytes.prefix(limits.maxChunkLine + 2).firstIndex(of: ByteClass.lf) else {
            return bytes.count > limits.maxChunkLine ? .failed(.badRequest("chunk line too long")) : .needMoreData
        }
        guard lf > 0, bytes[lf - 1] == ByteClass.cr else { return .failed(.badRequest("bare LF in chunked body")) }
        let line = bytes[0..<(lf - 1)]
        if line.contains(ByteClass.cr) { return .failed(.badRequest("bare CR in chunked body")) }
        return .line(line, lf + 1)
    }

    /// 1*HEXDIG [ BWS ";" extensions ]; at most 15 digits so the size cannot overflow.
    private func parseSize(_ line: Slice<UnsafeRawBufferPointer>) -> Int? {
        var size = 0
        var digits = 0
        var index = line.startIndex
        while index < line.endIndex, let value = ByteClass.hexValue(line[index]) {
            guard digits < 15 else { return nil }
            size = size * 16 + value
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        while index < line.endIndex, line[index] == ByteClass.space || line[index] == ByteClass.tab { index += 1 }
        if index == line.endIndex { return size }
        guard line[index] == UInt8(ascii: ";"), line[index...].allSatisfy(ByteClass.isFieldValue) else { return nil }
        return size
    }
}
