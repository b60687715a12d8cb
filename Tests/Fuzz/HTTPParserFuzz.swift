// libFuzzer target: the HTTP/1.1 request parser, fed in fuzzer-chosen chunk sizes.
// Built with Sources/HTTP by run.sh; invariants are checked with preconditions (a failure is a crash).

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
    var parser = RequestParser(limits: limits)
    var buffer: [UInt8] = []
    var index = 1
    var failed = false
    while index < input.count && !failed {
        buffer.append(contentsOf: input[index..<min(input.count, index + step)])
        index += step
        while !failed {
            let (consumed, event) = buffer.withUnsafeBytes { parser.parse($0) }
            precondition(consumed >= 0 && consumed <= buffer.count, "consumed more than was given")
            buffer.removeFirst(consumed)
            switch event {
            case .needMoreData:
                break
            case .headReceived:
                continue
            case .request(let request):
                precondition(request.body.count <= limits.maxBodyBytes, "body over the limit was accepted")
                precondition(!request.method.isEmpty && !request.target.isEmpty)
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
