// libFuzzer target: chunked request bodies (sizes, extensions, trailers) behind a fixed head.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChunked(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var limits = HTTPLimits()
    limits.maxBodyBytes = 4096
    limits.maxChunkLine = 256
    var parser = RequestParser(limits: limits)
    var buffer = Array("POST /v2/Flows HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
    buffer.append(contentsOf: UnsafeBufferPointer(start: data, count: size))
    while true {
        let (consumed, event) = buffer.withUnsafeBytes { parser.parse($0) }
        precondition(consumed <= buffer.count)
        buffer.removeFirst(consumed)
        switch event {
        case .needMoreData, .failed:
            return 0
        case .headReceived:
            continue
        case .request(let request):
            precondition(request.body.count <= limits.maxBodyBytes)
            continue
        }
    }
}
