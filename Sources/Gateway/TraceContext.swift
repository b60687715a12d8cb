import HTTP

/// W3C Trace Context (`traceparent`, `tracestate`): passed on to Twilio unchanged when the
/// `traceparent` is well formed, and its trace id written in the access log. The gateway makes no
/// span of its own, so it forwards what it got, as any intermediary that does not trace.
///
/// A malformed `traceparent` is dropped, and its `tracestate` with it: the state only means
/// something beside the parent it belongs to.
struct TraceContext: Sendable, Equatable {
    /// The value as received.
    let traceparent: String
    /// nil when absent, too long or not printable ASCII.
    let tracestate: String?

    /// The longest `tracestate` passed on: W3C asks intermediaries to propagate at least 512 characters.
    static let tracestateLimit = 512
    /// A later version may append fields; anything longer than this is not a trace header.
    static let traceparentLimit = 256

    /// From every field of a request: more than one `traceparent` is malformed (the W3C rule).
    init?(_ headers: HTTPHeaders) {
        let parents = headers.values("traceparent")
        guard parents.count == 1, let parent = parents.first, Self.traceID(parent) != nil else { return nil }
        traceparent = parent
        let state = headers.values("tracestate").joined(separator: ",")
        tracestate = state.isEmpty || !Self.isPrintable(state.utf8, limit: Self.tracestateLimit) ? nil : state
    }

    /// The trace id (32 lowercase hex digits) of a well-formed `traceparent`, or nil.
    static func traceID(_ traceparent: String) -> String? {
        var text = traceparent
        return text.withUTF8 { traceID(UnsafeRawBufferPointer($0)) }
    }

    /// The trace id read in place from a `traceparent` value (the access log reads it this way).
    static func traceID(_ bytes: UnsafeRawBufferPointer) -> String? {
        traceIDRange(bytes).map { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
    }

    /// version "-" trace-id "-" parent-id "-" trace-flags, each lowercase hex: version 2 digits,
    /// not ff; trace-id 32, not all zero; parent-id 16, not all zero; flags 2. Version 00 is exactly
    /// 55 characters; a later version may go on after a "-".
    private static func traceIDRange(_ bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        guard bytes.count >= 55, bytes.count <= traceparentLimit,
            isHex(bytes, 0..<2), !(bytes[0] == UInt8(ascii: "f") && bytes[1] == UInt8(ascii: "f")),
            bytes[2] == dash, isHex(bytes, 3..<35), !isZero(bytes, 3..<35),
            bytes[35] == dash, isHex(bytes, 36..<52), !isZero(bytes, 36..<52),
            bytes[52] == dash, isHex(bytes, 53..<55)
        else { return nil }
        let isVersionZero = bytes[0] == UInt8(ascii: "0") && bytes[1] == UInt8(ascii: "0")
        if bytes.count > 55 {
            guard !isVersionZero, bytes[55] == dash, isPrintable(bytes[56...], limit: traceparentLimit) else {
                return nil
            }
        }
        return 3..<35
    }

    private static let dash = UInt8(ascii: "-")

    private static func isHex(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        bytes[range].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    private static func isZero(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        bytes[range].allSatisfy { $0 == 0x30 }
    }

    private static func isPrintable<C: Collection<UInt8>>(_ bytes: C, limit: Int) -> Bool {
        bytes.count <= limit && bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }
}
