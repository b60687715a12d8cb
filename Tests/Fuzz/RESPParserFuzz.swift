// libFuzzer target: the RESP2 parser (Sources/Redis/RESP*.swift), fed in fuzzer-chosen chunk sizes.
// Built by run.sh with the pure RESP sources only; invariants are preconditions (a failure is a crash).
// Invariants: the values and the error are the same however the input is split; every value keeps
// within the limits; a value encoded again parses back to itself; nothing is buffered that was not fed.

func depth(_ value: RESPValue) -> Int {
    guard case .array(let elements?) = value else { return 0 }
    return 1 + (elements.map(depth).max() ?? 0)
}

func withinLimits(_ value: RESPValue, _ limits: RESPLimits) -> Bool {
    switch value {
    case .bulkString(let bytes?): return bytes.count <= limits.maxBulkLength
    case .array(let elements?):
        return elements.count <= limits.maxArrayElements && elements.allSatisfy { withinLimits($0, limits) }
    case .simpleString(let text), .error(let text):
        return text.utf8.count <= 3 * limits.maxLineLength  // each invalid UTF-8 byte became U+FFFD
    default: return true
    }
}

/// Feeds `input` in chunks of `step` bytes; every value until the end or the first error.
func parse(_ input: ArraySlice<UInt8>, step: Int, limits: RESPLimits) -> (values: [RESPValue], error: RESPError?) {
    var parser = RESPParser(limits: limits)
    var values: [RESPValue] = []
    var fed = 0
    var index = input.startIndex
    while index < input.endIndex {
        let end = min(input.endIndex, index + step)
        parser.feed(input[index..<end])
        fed += end - index
        index = end
        do {
            while let value = try parser.next() { values.append(value) }
        } catch {
            return (values, error)
        }
        precondition(parser.bufferedBytes <= fed, "buffered more than was fed")
    }
    return (values, nil)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESPParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = input.first else { return 0 }
    var limits = RESPLimits()
    limits.maxBulkLength = 4_096
    limits.maxArrayElements = 64
    limits.maxDepth = 4
    limits.maxLineLength = 256
    limits.maxValueBytes = 16_384
    let body = input[1...]
    let whole = parse(body, step: max(1, body.count), limits: limits)
    // The first byte picks the chunk size, so splits at every position get explored.
    let chunked = parse(body, step: Int(first % 16) + 1, limits: limits)
    precondition(chunked.values == whole.values, "values depend on how the input was split")
    precondition(chunked.error == whole.error, "the error depends on how the input was split")
    for value in whole.values {
        precondition(depth(value) <= limits.maxDepth, "nested deeper than the limit")
        precondition(withinLimits(value, limits), "a value over the limits")
        var encoded: [UInt8] = []
        RESPEncoder.append(value, to: &encoded)
        // Invalid UTF-8 in a simple string or error came out as U+FFFD (3 bytes each), so the line
        // written again may be up to 3 times longer (crash-d2d0a11c…: the oracle, not the parser).
        var relaxed = limits
        relaxed.maxLineLength = 3 * limits.maxLineLength
        relaxed.maxValueBytes = 3 * limits.maxValueBytes
        var again = RESPParser(limits: relaxed)
        again.feed(encoded)
        precondition((try? again.next()) == value, "a value encoded again does not parse back to itself")
    }
    return 0
}
