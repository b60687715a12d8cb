/// Writes RESP2 into a buffer the caller keeps and reuses (a connection's output): commands as
/// arrays of bulk strings, the only form Redis reads from clients, and any value (for tests and
/// fake servers).
public enum RESPEncoder {
    public static func append(_ command: RedisCommand, to buffer: inout [UInt8]) {
        appendHeader(ASCII.star, command.arguments.count, to: &buffer)
        for argument in command.arguments {
            appendHeader(ASCII.dollar, argument.byteCount, to: &buffer)
            switch argument {
            case .string(let text): buffer.append(contentsOf: text.utf8)
            case .bytes(let bytes): buffer.append(contentsOf: bytes)
            }
            buffer.append(ASCII.cr)
            buffer.append(ASCII.lf)
        }
    }

    /// What `append(command)` adds, without writing it (to refuse a command that would not fit).
    public static func encodedLength(of command: RedisCommand) -> Int {
        var total = headerLength(command.arguments.count)
        for argument in command.arguments { total += headerLength(argument.byteCount) + argument.byteCount + 2 }
        return total
    }

    public static func append(_ value: RESPValue, to buffer: inout [UInt8]) {
        switch value {
        case .simpleString(let text):
            buffer.append(ASCII.plus)
            appendLine(text, to: &buffer)
        case .error(let text):
            buffer.append(ASCII.minus)
            appendLine(text, to: &buffer)
        case .integer(let number):
            buffer.append(ASCII.colon)
            appendLine(String(number), to: &buffer)
        case .bulkString(nil):
            appendLine("$-1", to: &buffer)
        case .bulkString(let bytes?):
            appendHeader(ASCII.dollar, bytes.count, to: &buffer)
            buffer.append(contentsOf: bytes)
            buffer.append(ASCII.cr)
            buffer.append(ASCII.lf)
        case .array(nil):
            appendLine("*-1", to: &buffer)
        case .array(let elements?):
            appendHeader(ASCII.star, elements.count, to: &buffer)
            for element in elements { append(element, to: &buffer) }
        }
    }

    private static func appendHeader(_ type: UInt8, _ count: Int, to buffer: inout [UInt8]) {
        buffer.append(type)
        appendDecimal(count, to: &buffer)
        buffer.append(ASCII.cr)
        buffer.append(ASCII.lf)
    }

    private static func headerLength(_ count: Int) -> Int { 1 + decimalLength(count) + 2 }

    private static func appendLine(_ text: String, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(ASCII.cr)
        buffer.append(ASCII.lf)
    }

    /// Digits of a non-negative count, without making a String per header.
    private static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        let start = buffer.count
        var rest = value
        repeat {
            buffer.append(ASCII.zero + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        buffer[start...].reverse()
    }

    private static func decimalLength(_ value: Int) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        return digits
    }
}
