// libFuzzer target: upstream answer heads (the lines curl hands the header callback), each field
// passed on to clients checked by `UpstreamFieldRule`. Whatever it keeps must reach a client as
// the very bytes the upstream sent (visible ASCII, SP, HTAB; a request id of RQ + 32 hex digits):
// never decoded into replacement characters, never with a control byte.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUpstreamField(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let head = UnsafeRawBufferPointer(start: data, count: size)
    let names = ["Content-Type", "Twilio-Request-Id", "WWW-Authenticate"]
    var lineStart = 0
    while lineStart < head.count {
        var lineEnd = lineStart
        while lineEnd < head.count, head[lineEnd] != 0x0A { lineEnd += 1 }
        var end = lineEnd
        while end > lineStart, head[end - 1] == 0x0D || head[end - 1] == 0x0A { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: head[lineStart..<end])
        lineStart = lineEnd + 1
        // The field's name is picked by the line's first byte, its value is the rest (trimmed as
        // CurlTransfer trims it).
        guard let first = line.first else { continue }
        let name = names[Int(first) % names.count]
        var valueStart = 1
        var valueEnd = line.count
        while valueStart < valueEnd, line[valueStart] == 0x20 || line[valueStart] == 0x09 { valueStart += 1 }
        while valueEnd > valueStart, line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09 { valueEnd -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
        guard UpstreamFieldRule.keeps(name, value: value) else { continue }
        precondition(
            value.allSatisfy { (0x20...0x7E).contains($0) || $0 == 0x09 },
            "a kept value holds a control or non-ASCII byte")
        let text = String(decoding: value, as: UTF8.self)
        precondition(Array(text.utf8) == Array(value), "a kept value would be sent mangled")
        precondition(UpstreamFieldRule.keeps(name, value: text), "the rule disagrees with itself on the decoded value")
        if name == "Twilio-Request-Id" {
            precondition(value.count == 34 && text.hasPrefix("RQ"), "a request id that is not RQ + 32 hex digits")
        }
    }
    return 0
}
