import Glibc
import XCTest

@testable import Redis
@testable import TestSupport

/// The RESP2 parser and encoder over bytes: every type, any split, and refusals of what is broken
/// or over a limit (typed errors, never a trap, never an allocation a header asks for).
final class RedisProtocolTests: XCTestCase {
    func parseAll(_ text: String, limits: RESPLimits = RESPLimits()) throws -> [RESPValue] {
        try parseAll(Array(text.utf8), limits: limits)
    }

    func parseAll(_ bytes: [UInt8], limits: RESPLimits = RESPLimits()) throws -> [RESPValue] {
        var parser = RESPParser(limits: limits)
        parser.feed(bytes)
        var values: [RESPValue] = []
        while let value = try parser.next() { values.append(value) }
        return values
    }

    func error(_ text: String, limits: RESPLimits = RESPLimits()) -> RESPError? {
        do {
            _ = try parseAll(text, limits: limits)
            return nil
        } catch {
            return error as? RESPError
        }
    }

    func testEveryType() throws {
        XCTAssertEqual(try parseAll("+OK\r\n"), [.simpleString("OK")])
        XCTAssertEqual(try parseAll("-ERR wrong type\r\n"), [.error("ERR wrong type")])
        XCTAssertEqual(try parseAll(":42\r\n:-7\r\n:0\r\n"), [.integer(42), .integer(-7), .integer(0)])
        XCTAssertEqual(try parseAll("$5\r\nhello\r\n"), [.bulkString(Array("hello".utf8))])
        XCTAssertEqual(try parseAll("$0\r\n\r\n"), [.bulkString([])])
        XCTAssertEqual(try parseAll("*2\r\n$1\r\na\r\n:1\r\n"), [.array([.bulkString([97]), .integer(1)])])
        XCTAssertEqual(try parseAll("*0\r\n"), [.array([])])
        XCTAssertEqual(try parseAll("+\r\n"), [.simpleString("")])
    }

    func testNullBulkStringAndNullArray() throws {
        XCTAssertEqual(try parseAll("$-1\r\n*-1\r\n"), [.bulkString(nil), .array(nil)])
        XCTAssertEqual(
            try parseAll("*3\r\n$-1\r\n*-1\r\n+x\r\n"),
            [.array([.bulkString(nil), .array(nil), .simpleString("x")])])
    }

    func testNestedArrays() throws {
        let values = try parseAll("*3\r\n*1\r\n:1\r\n*2\r\n+a\r\n*1\r\n*0\r\n$2\r\nhi\r\n")
        XCTAssertEqual(
            values,
            [
                .array([
                    .array([.integer(1)]), .array([.simpleString("a"), .array([.array([])])]),
                    .bulkString(Array("hi".utf8)),
                ])
            ])
    }

    func testBulkStringsAreBinary() throws {
        let payload: [UInt8] = Array(0...255) + Array("\r\n$-1\r\n*".utf8)
        var bytes: [UInt8] = []
        RESPEncoder.append(.bulkString(payload), to: &bytes)
        XCTAssertEqual(try parseAll(bytes), [.bulkString(payload)])
    }

    func testIntegerExtremes() throws {
        XCTAssertEqual(
            try parseAll(":9223372036854775807\r\n:-9223372036854775808\r\n"),
            [.integer(.max), .integer(.min)])
        XCTAssertEqual(error(":9223372036854775808\r\n"), .invalidInteger)
        XCTAssertEqual(error(":-9223372036854775809\r\n"), .invalidInteger)
        XCTAssertEqual(error(":99999999999999999999999999999\r\n"), .invalidInteger)
    }

    /// A pipelined stream of every kind of value, split at every byte and fed byte by byte: always
    /// the same values.
    func testEverySplitPointOfAPipelinedStream() throws {
        let expected: [RESPValue] = [
            .simpleString("OK"), .error("WRONGTYPE Operation against a key"), .integer(-12345), .integer(0),
            .bulkString(Array("value with\r\ninside".utf8)), .bulkString([]), .bulkString(nil), .array(nil), .array([]),
            .array([
                .bulkString(Array("message".utf8)), .bulkString(Array("chan".utf8)),
                .bulkString([0, 13, 10, 255]),
            ]),
            .array([.array([.integer(1), .array([.simpleString("deep")])]), .bulkString(nil)]),
            .simpleString("PONG"),
        ]
        var stream: [UInt8] = []
        for value in expected { RESPEncoder.append(value, to: &stream) }
        XCTAssertEqual(try parseAll(stream), expected)
        for split in 0...stream.count {
            var parser = RESPParser()
            var values: [RESPValue] = []
            parser.feed(stream[0..<split])
            while let value = try parser.next() { values.append(value) }
            parser.feed(stream[split...])
            while let value = try parser.next() { values.append(value) }
            XCTAssertEqual(values, expected, "split at \(split)")
            XCTAssertEqual(parser.bufferedBytes, 0)
        }
        var parser = RESPParser()
        var values: [RESPValue] = []
        for byte in stream {
            parser.feed([byte])
            while let value = try parser.next() { values.append(value) }
        }
        XCTAssertEqual(values, expected)
    }

    func testIncompleteValuesWaitForMoreBytes() throws {
        var parser = RESPParser()
        parser.feed(Array("*2\r\n$5\r\nhel".utf8))
        XCTAssertNil(try parser.next())
        parser.feed(Array("lo\r\n".utf8))
        XCTAssertNil(try parser.next())
        parser.feed(Array(":1\r".utf8))
        XCTAssertNil(try parser.next())
        parser.feed(Array("\n".utf8))
        XCTAssertEqual(try parser.next(), .array([.bulkString(Array("hello".utf8)), .integer(1)]))
        XCTAssertNil(try parser.next())
    }

    func testBadTypeByteIsRefusedAtOnce() {
        XCTAssertEqual(error("?garbage\r\n"), .invalidTypeByte(UInt8(ascii: "?")))
        XCTAssertEqual(error("HTTP/1.1 200 OK\r\n"), .invalidTypeByte(UInt8(ascii: "H")))
        XCTAssertEqual(error("\r\n"), .invalidTypeByte(13))
        // No line end needed: the first byte is enough.
        XCTAssertEqual(error("x"), .invalidTypeByte(UInt8(ascii: "x")))
        XCTAssertEqual(error("*2\r\n:1\r\n!\r\n"), .invalidTypeByte(UInt8(ascii: "!")))
    }

    func testNonDigitAndNegativeLengthsAreRefused() {
        for text in [
            "$abc\r\n", "$1a\r\n", "$\r\n", "$+5\r\n", "$ 5\r\n", "*x\r\n", "*\r\n", "$-2\r\n", "$-0\r\n",
            "$-10\r\n", "*-5\r\n", "*-1 \r\n", "$--1\r\n", "$-\r\n",
        ] {
            XCTAssertEqual(error(text), .invalidLength, text.debugDescription)
        }
        for text in [":\r\n", ":-\r\n", ":12x\r\n", ": 1\r\n", ":+1\r\n"] {
            XCTAssertEqual(error(text), .invalidInteger, text.debugDescription)
        }
    }

    func testMissingCRLFIsRefused() {
        for text in [
            "+OK\n", "-ERR\n", ":1\n", "$3\n", "$3\r\nabcXY", "$3\r\nabc\rX", "+O\rK\r\n", "-E\rRR\r\n",
            "*1\n",
        ] {
            XCTAssertEqual(error(text), .missingCRLF, text.debugDescription)
        }
    }

    func testOverlongLinesAreRefusedWithOrWithoutTheirEnd() {
        var limits = RESPLimits()
        limits.maxLineLength = 64
        XCTAssertEqual(try parseAll("+" + String(repeating: "a", count: 64) + "\r\n", limits: limits).count, 1)
        XCTAssertEqual(error("+" + String(repeating: "a", count: 65) + "\r\n", limits: limits), .lineTooLong(limit: 64))
        XCTAssertEqual(error("-" + String(repeating: "e", count: 65) + "\r\n", limits: limits), .lineTooLong(limit: 64))
        XCTAssertEqual(error(":" + String(repeating: "1", count: 65) + "\r\n", limits: limits), .lineTooLong(limit: 64))
        // A line that never ends is refused once it is longer than any valid one could be.
        var parser = RESPParser(limits: limits)
        parser.feed(Array(("+" + String(repeating: "a", count: 65)).utf8))
        XCTAssertNil(try parser.next())
        parser.feed([UInt8(ascii: "a")])
        XCTAssertThrowsError(try parser.next()) { XCTAssertEqual($0 as? RESPError, .lineTooLong(limit: 64)) }
    }

    func testHugeDeclaredBulkLengthIsRefusedBeforeItsBytes() {
        XCTAssertEqual(error("$9223372036854775807\r\n"), .bulkTooLong(limit: RESPLimits().maxBulkLength))
        XCTAssertEqual(error("$99999999999999999999999999999999\r\n"), .bulkTooLong(limit: RESPLimits().maxBulkLength))
        XCTAssertEqual(error("$\(RESPLimits().maxBulkLength + 1)\r\n"), .bulkTooLong(limit: RESPLimits().maxBulkLength))
        // Over the limit is refused even when more digits (or garbage) could follow; no number is
        // ever computed past the limit.
        XCTAssertEqual(error("$18446744073709551616000\r\n"), .bulkTooLong(limit: RESPLimits().maxBulkLength))
        XCTAssertEqual(error("*9223372036854775807\r\n"), .tooManyElements(limit: RESPLimits().maxArrayElements))
        XCTAssertEqual(
            error("*\(RESPLimits().maxArrayElements + 1)\r\n"),
            .tooManyElements(limit: RESPLimits().maxArrayElements))
    }

    /// A header within the limits that claims 16 MB (or an array of 65,536 elements) reserves
    /// nothing: memory follows the bytes that arrive, not what the header says.
    func testDeclaredLengthsReserveNothing() throws {
        var parser = RESPParser()
        parser.feed(Array("$\(RESPLimits().maxBulkLength)\r\nabc".utf8))
        XCTAssertNil(try parser.next())
        XCTAssertLessThan(parser.reservedBytes, 1_024)
        var arrays = RESPParser()
        arrays.feed(Array("*\(RESPLimits().maxArrayElements)\r\n*\(RESPLimits().maxArrayElements)\r\n:1\r\n".utf8))
        XCTAssertNil(try arrays.next())
        XCTAssertLessThan(arrays.reservedBytes, 4_096)
    }

    func testNestingDeeperThanTheLimitIsRefused() throws {
        var limits = RESPLimits()
        limits.maxDepth = 4
        let four = String(repeating: "*1\r\n", count: 4) + ":1\r\n"
        XCTAssertEqual(try parseAll(four, limits: limits), [.array([.array([.array([.array([.integer(1)])])])])])
        XCTAssertEqual(error(String(repeating: "*1\r\n", count: 5) + ":1\r\n", limits: limits), .tooDeep(limit: 4))
        XCTAssertEqual(error(String(repeating: "*1\r\n", count: 4) + "*0\r\n", limits: limits), .tooDeep(limit: 4))
        // The default depth refuses a million nested headers at the ninth, without recursion.
        XCTAssertEqual(error(String(repeating: "*1\r\n", count: 1_000_000)), .tooDeep(limit: 8))
    }

    func testAReplyLargerThanTheValueLimitIsRefused() {
        var limits = RESPLimits()
        limits.maxValueBytes = 1_000
        limits.maxBulkLength = 600
        XCTAssertEqual(error("*2\r\n$600\r\n", limits: limits), nil)  // not over yet: waits for bytes
        XCTAssertEqual(
            error("*2\r\n$600\r\n" + String(repeating: "a", count: 600) + "\r\n$600\r\n", limits: limits),
            .valueTooLarge(limit: 1_000))
    }

    /// Lines are text: invalid UTF-8 is read as U+FFFD, so one written again can be up to three times
    /// longer (the resp-parser fuzz target's first finding was its oracle forgetting this).
    func testInvalidUTF8InALineBecomesReplacementCharacters() throws {
        var limits = RESPLimits()
        limits.maxLineLength = 4
        let values = try parseAll([UInt8(ascii: "-"), 0xFF, 0xFF, 0x9C, 0xFF, 13, 10], limits: limits)
        XCTAssertEqual(values, [.error("\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")])
        var encoded: [UInt8] = []
        RESPEncoder.append(values[0], to: &encoded)
        XCTAssertEqual(encoded.count, 1 + 12 + 2)
        XCTAssertThrowsError(try parseAll(encoded, limits: limits))
    }

    func testAnErrorIsFinal() throws {
        var parser = RESPParser()
        parser.feed(Array("+OK\r\n?bad\r\n".utf8))
        XCTAssertEqual(try parser.next(), .simpleString("OK"))
        XCTAssertThrowsError(try parser.next())
        parser.feed(Array("+OK\r\n".utf8))
        XCTAssertThrowsError(try parser.next()) {
            XCTAssertEqual($0 as? RESPError, .invalidTypeByte(UInt8(ascii: "?")))
        }
        XCTAssertEqual(parser.bufferedBytes, 0)
    }

    // MARK: encoder

    func testCommandsAreArraysOfBulkStrings() {
        var buffer: [UInt8] = []
        RESPEncoder.append(.get("k:{AC1}"), to: &buffer)
        XCTAssertEqual(String(decoding: buffer, as: UTF8.self), "*2\r\n$3\r\nGET\r\n$7\r\nk:{AC1}\r\n")
        buffer.removeAll(keepingCapacity: true)
        RESPEncoder.append(.set("k", [0, 13, 10], expireMilliseconds: 1500, onlyIfAbsent: true), to: &buffer)
        XCTAssertEqual(
            buffer,
            Array("*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n".utf8) + [0, 13, 10]
                + Array("\r\n$2\r\nPX\r\n$4\r\n1500\r\n$2\r\nNX\r\n".utf8))
        buffer.removeAll(keepingCapacity: true)
        RESPEncoder.append(.delete(["a", "bc"]), to: &buffer)
        RESPEncoder.append(.ping, to: &buffer)
        XCTAssertEqual(
            String(decoding: buffer, as: UTF8.self),
            "*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$2\r\nbc\r\n*1\r\n$4\r\nPING\r\n")
    }

    func testEncodedLengthMatchesTheBytes() {
        let commands: [RedisCommand] = [
            .get(""), .ping, .publish("c", Array(repeating: 7, count: 12_345)), .delete((0..<11).map { "key\($0)" }),
            .set(String(repeating: "é", count: 100), Array(repeating: 1, count: 9), expireMilliseconds: 0),
        ]
        for command in commands {
            var buffer: [UInt8] = [1, 2, 3]
            RESPEncoder.append(command, to: &buffer)
            XCTAssertEqual(buffer.count - 3, RESPEncoder.encodedLength(of: command), command.description)
        }
    }

    func testEncodedCommandsParseBackAsTheirArguments() throws {
        let value = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var buffer: [UInt8] = []
        RESPEncoder.append(.set("κλειδί", value, expireMilliseconds: 30_000), to: &buffer)
        let expected: RESPValue = .array([
            .bulkString(Array("SET".utf8)), .bulkString(Array("κλειδί".utf8)),
            .bulkString(value), .bulkString(Array("PX".utf8)),
            .bulkString(Array("30000".utf8)),
        ])
        XCTAssertEqual(try parseAll(buffer), [expected])
    }

    func testCommandsNeverPrintTheirArguments() {
        let auth = RedisCommand.auth(username: "app", password: "hunter2")
        for text in [auth.description, String(reflecting: auth), "\(auth)", dumped(auth)] {
            XCTAssertFalse(text.contains("hunter2"), text)
        }
        XCTAssertEqual(auth.description, "AUTH (2 arguments)")
    }
}

/// What `dump` prints for `value`.
func dumped(_ value: some Any) -> String {
    var text = ""
    dump(value, to: &text)
    return text
}
