/// Incremental RESP2 reader: `feed` the bytes a socket gave, then call `next()` until it returns
/// nil. Any split of the stream gives the same values. A partial array waits on a stack, so a
/// reply is never parsed again from its start when more bytes arrive, and a partial line is
/// searched for its LF only from where the last search stopped.
///
/// Pure: no I/O, no Foundation, so the fuzz target builds it alone.
public struct RESPParser: Sendable {
    public let limits: RESPLimits
    private var buffer: [UInt8] = []
    /// First byte not consumed yet.
    private var index = 0
    /// How far the current line has been searched for its LF (an index into `buffer`).
    private var scanned = 0
    /// The declared length of a bulk string whose bytes have not all arrived.
    private var pendingBulk: Int? = nil
    private var stack: [PartialArray] = []
    /// Bytes taken so far by the top-level value being read (`limits.maxValueBytes`).
    private var valueBytes = 0
    private var failure: RESPError? = nil

    private struct PartialArray: Sendable {
        var remaining: Int
        var elements: [RESPValue]
    }

    private enum Step {
        case value(RESPValue)
        /// An array or bulk header was read; its contents follow.
        case started
        case needMoreData
    }

    public init(limits: RESPLimits = RESPLimits()) { self.limits = limits }

    /// Bytes fed and not yet consumed by a complete value.
    public var bufferedBytes: Int { buffer.count - index }

    /// Capacity the parser holds (its buffer and open arrays), in bytes: what the tests check
    /// against what a header declared.
    var reservedBytes: Int {
        stack.reduce(buffer.capacity) { $0 + $1.elements.capacity * MemoryLayout<RESPValue>.stride }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// The next complete value, or nil until more bytes are fed. After an error every call throws
    /// it again: the stream cannot be resynchronised.
    public mutating func next() throws(RESPError) -> RESPValue? {
        if let failure { throw failure }
        do throws(RESPError) {
            while true {
                switch try step() {
                case .needMoreData:
                    return nil
                case .started:
                    continue
                case .value(let value):
                    if let complete = collect(value) { return complete }
                }
            }
        } catch {
            failure = error
            buffer = []
            index = 0
            stack = []
            throw error
        }
    }

    // MARK: reading

    private mutating func step() throws(RESPError) -> Step {
        if let length = pendingBulk {
            // `length` is within the limits, so this cannot overflow; bytes are counted first.
            guard buffer.count - index - 2 >= length else { return .needMoreData }
            guard buffer[index + length] == ASCII.cr, buffer[index + length + 1] == ASCII.lf else { throw .missingCRLF }
            let bytes = Array(buffer[index..<(index + length)])
            index += length + 2
            scanned = index
            pendingBulk = nil
            return .value(.bulkString(bytes))
        }
        guard index < buffer.count else { return .needMoreData }
        let type = buffer[index]
        // Refuse garbage at its first byte instead of waiting for a line end that may never come.
        guard ASCII.isTypeByte(type) else { throw .invalidTypeByte(type) }
        // Type byte, content, CR: a line longer than that is refused whether or not its LF has come,
        // so the same bytes give the same error however they are split.
        guard let lf = findLineFeed() else {
            if buffer.count - index - 2 > limits.maxLineLength { throw .lineTooLong(limit: limits.maxLineLength) }
            return .needMoreData
        }
        if lf - index - 2 > limits.maxLineLength { throw .lineTooLong(limit: limits.maxLineLength) }
        guard lf > index + 1, buffer[lf - 1] == ASCII.cr else { throw .missingCRLF }
        let content = (index + 1)..<(lf - 1)
        try account(lf + 1 - index)
        index = lf + 1
        scanned = index
        switch type {
        case ASCII.plus:
            return .value(.simpleString(try text(content)))
        case ASCII.minus:
            return .value(.error(try text(content)))
        case ASCII.colon:
            return .value(.integer(try integer(content)))
        case ASCII.dollar:
            let over = RESPError.bulkTooLong(limit: limits.maxBulkLength)
            guard let length = try length(content, limit: limits.maxBulkLength, over: over) else {
                return .value(.bulkString(nil))
            }
            // Counted against the reply before a byte of it is buffered.
            let (total, overflow) = length.addingReportingOverflow(2)
            if overflow { throw .valueTooLarge(limit: limits.maxValueBytes) }
            try account(total)
            pendingBulk = length
            return .started
        default:  // ASCII.star
            let over = RESPError.tooManyElements(limit: limits.maxArrayElements)
            guard let count = try length(content, limit: limits.maxArrayElements, over: over) else {
                return .value(.array(nil))
            }
            guard stack.count < limits.maxDepth else { throw .tooDeep(limit: limits.maxDepth) }
            if count == 0 { return .value(.array([])) }
            var elements: [RESPValue] = []
            // Reserve what small replies need, never what a header claims.
            elements.reserveCapacity(min(count, 16))
            stack.append(PartialArray(remaining: count, elements: elements))
            return .started
        }
    }

    /// Adds `value` to the innermost open array; returns the top-level value once it is complete.
    private mutating func collect(_ value: RESPValue) -> RESPValue? {
        var value = value
        while let last = stack.indices.last {
            stack[last].elements.append(value)
            stack[last].remaining -= 1
            if stack[last].remaining > 0 { return nil }
            value = .array(stack.removeLast().elements)
        }
        valueBytes = 0
        return value
    }

    private mutating func account(_ bytes: Int) throws(RESPError) {
        let (total, overflow) = valueBytes.addingReportingOverflow(bytes)
        if overflow || total > limits.maxValueBytes { throw .valueTooLarge(limit: limits.maxValueBytes) }
        valueBytes = total
    }

    private mutating func findLineFeed() -> Int? {
        let start = max(scanned, index + 1)
        guard start < buffer.count else { return nil }
        if let lf = buffer[start...].firstIndex(of: ASCII.lf) { return lf }
        scanned = buffer.count
        return nil
    }

    /// Drops consumed bytes before new ones are appended. Between values the unconsumed tail is a
    /// partial value at most; while a long bulk string arrives `index` stays 0, so nothing moves.
    private mutating func compact() {
        guard index > 0 else { return }
        if index == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 64 * 1024)
        } else {
            buffer.removeSubrange(0..<index)
        }
        scanned = max(0, scanned - index)
        index = 0
    }

    // MARK: line contents

    private func text(_ range: Range<Int>) throws(RESPError) -> String {
        // The line ended at its first LF, so only a stray CR can be inside.
        if buffer[range].contains(ASCII.cr) { throw .missingCRLF }
        return String(decoding: buffer[range], as: UTF8.self)
    }

    /// A bulk or array length: decimal digits, or exactly -1 (nil). A number over `limit` is
    /// `over` however many digits follow; it is never computed past the limit, so never overflows.
    private func length(_ range: Range<Int>, limit: Int, over: RESPError) throws(RESPError) -> Int? {
        guard !range.isEmpty else { throw .invalidLength }
        if buffer[range.lowerBound] == ASCII.minus {
            guard range.count == 2, buffer[range.lowerBound + 1] == ASCII.one else { throw .invalidLength }
            return nil
        }
        var value = 0
        var isOver = false
        for position in range {
            let digit = buffer[position] &- ASCII.zero
            guard digit <= 9 else { throw .invalidLength }
            if isOver { continue }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(digit))
            if overflow1 || overflow2 || sum > limit { isOver = true } else { value = sum }
        }
        if isOver { throw over }
        return value
    }

    private func integer(_ range: Range<Int>) throws(RESPError) -> Int64 {
        var digits = range
        let negative = !range.isEmpty && buffer[range.lowerBound] == ASCII.minus
        if negative { digits = (range.lowerBound + 1)..<range.upperBound }
        guard !digits.isEmpty else { throw .invalidInteger }
        var value: Int64 = 0
        for position in digits {
            let digit = buffer[position] &- ASCII.zero
            guard digit <= 9 else { throw .invalidInteger }
            // Accumulated with the sign, so Int64.min is readable.
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) =
                negative
                ? times10.subtractingReportingOverflow(Int64(digit))
                : times10.addingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { throw .invalidInteger }
            value = next
        }
        return value
    }
}

/// The protocol's bytes.
enum ASCII {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let plus = UInt8(ascii: "+")
    static let minus = UInt8(ascii: "-")
    static let colon = UInt8(ascii: ":")
    static let dollar = UInt8(ascii: "$")
    static let star = UInt8(ascii: "*")
    static let zero = UInt8(ascii: "0")
    static let one = UInt8(ascii: "1")

    static func isTypeByte(_ byte: UInt8) -> Bool {
        byte == plus || byte == minus || byte == colon || byte == dollar || byte == star
    }
}
