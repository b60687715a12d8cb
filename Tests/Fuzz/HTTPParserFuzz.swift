// libFuzzer target: the HTTP/1.1 request parser, fed in fuzzer-chosen chunk sizes.
// Built with Sources/HTTP by run.sh; invariants are checked with preconditions (a failure is a crash).
// Invariants: consumption stays within what was given, limits hold, and (issue 18 #3) no more than
// `maxEmptyLines` empty lines are ever accepted before one request line, however the input is split.

/// How many CRLF pairs `bytes` starts with.
func leadingEmptyLines(_ bytes: [UInt8]) -> Int {
    var count = 0
    while 2 * count + 1 < bytes.count, bytes[2 * count] == 0x0D, bytes[2 * count + 1] == 0x0A { count += 1 }
    return count
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = input.first else { return 0 }
    // The first byte picks the chunk size, so splits at every position get explored.
    let step = Int(first % 16) + 1
    var limits = HTTPLimits()
    limits.maxRequestLine = 512
    limits.maxHeaderBytes = 2048
    limits.maxBodyBytes = 4096
    limits.maxEmptyLines = 3
    var parser = RequestParser(limits: limits)
    // Bytes consumed since the last request line began (head bytes only; body bytes are not kept).
    var headBytes: [UInt8] = []
    var inHead = true
    var buffer: [UInt8] = []
    var index = 1
    var failed = false
    while index < input.count && !failed {
        buffer.append(contentsOf: input[index..<min(input.count, index + step)])
        index += step
        while !failed {
            let (consumed, event) = buffer.withUnsafeBytes { parser.parse($0) }
            precondition(consumed >= 0 && consumed <= buffer.count, "consumed more than was given")
            if inHead { headBytes.append(contentsOf: buffer[0..<consumed]) }
            buffer.removeFirst(consumed)
            if case .failed = event {
            } else {
                precondition(leadingEmptyLines(headBytes) <= limits.maxEmptyLines, "too many empty lines were accepted")
            }
            switch event {
            case .needMoreData:
                break
            case .headReceived:
                inHead = false
                headBytes = []
                continue
            case .request(let request):
                precondition(request.body.count <= limits.maxBodyBytes, "body over the limit was accepted")
                precondition(!request.method.rawValue.isEmpty && !request.target.isEmpty)
                inHead = true
                headBytes = []
                continue
            case .failed(let error):
                precondition([400, 408, 413, 414, 417, 431, 505].contains(error.status))
                failed = true
            }
            break
        }
    }
    return 0
}
