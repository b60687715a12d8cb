import Glibc
import HTTP

/// The path and query of a request target, after the isolation checks (docs/ARCHITECTURE.md) that keep the gateway
/// from being turned into an open proxy or a path-traversal vector.
public struct RequestTarget: Equatable, Sendable {
    public var path: String
    /// The raw query without `?`, passed upstream unchanged ("" when absent).
    public var query: String

    public enum Rejection: Error, Equatable, Sendable {
        case badRequest(String)
    }

    /// Parses origin-form (`/v2/Flows?x=1`) or absolute-form naming this gateway (`http://host/v2/...`).
    /// - Parameter ownAuthorities: host[:port] values that absolute-form targets may name.
    public static func parse(_ target: String, ownAuthorities: [String]) -> Result<RequestTarget, Rejection> {
        resolve(target, ownAuthorities: ownAuthorities).map(\.target)
    }

    /// `parse`, and the route the path names: both from one look at the bytes (every request).
    /// A path the router knows is made of literals and checked SIDs only, so nothing in it can be
    /// refused: the path checks run only for paths it does not know (then answered 400 or 404).
    public static func resolve(_ target: String, ownAuthorities: [String]) -> Result<
        (target: RequestTarget, match: StudioRouter.Match), Rejection
    > {
        var originForm = target
        if target.utf8.first != UInt8(ascii: "/") {
            let lower = target.lowercased()
            guard let schemeEnd = lower.range(of: "://"),
                ["http", "https"].contains(String(lower[..<schemeEnd.lowerBound]))
            else {
                return .failure(.badRequest("request target must be a path"))
            }
            let afterScheme = target[schemeEnd.upperBound...]
            let authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
            guard ownAuthorities.contains(where: { $0.lowercased() == authority.lowercased() }) else {
                return .failure(.badRequest("absolute-form target for another host"))
            }
            originForm = String(afterScheme[authority.endIndex...])
            if originForm.isEmpty || originForm.utf8.first == UInt8(ascii: "?") { originForm = "/" + originForm }
        }
        // No new string for a target without a query (the usual case).
        return originForm.withUTF8Bytes { bytes in
            let mark = bytes.baseAddress.flatMap { base in
                memchr(base, Int32(UInt8(ascii: "?")), bytes.count).map { UnsafeRawPointer(base).distance(to: $0) }
            }
            let path = UnsafeBufferPointer(rebasing: bytes[..<(mark ?? bytes.count)])
            let query =
                mark.map { UnsafeBufferPointer(rebasing: bytes[($0 + 1)...]) }
                ?? UnsafeBufferPointer(start: nil, count: 0)
            let checked =
                mark == nil
                ? RequestTarget(path: originForm, query: "")
                : RequestTarget(
                    path: String(decoding: path, as: UTF8.self), query: String(decoding: query, as: UTF8.self))
            let match = StudioRouter.match(bytes: path, path: checked.path)
            let why = match == .notFound ? rejection(path: path, query: query) : queryRejection(query)
            if let why { return .failure(.badRequest(why)) }
            return .success((checked, match))
        }
    }

    /// Controls, spaces, non-ASCII and `#` anywhere; `\\`, `.`/`..` segments and encoded `/`,
    /// `\\`, NUL or `.` in the path.
    private static func rejection(path: UnsafeBufferPointer<UInt8>, query: UnsafeBufferPointer<UInt8>) -> String? {
        if let why = queryRejection(query) { return why }
        guard let base = path.baseAddress else { return nil }
        var segmentStart = 0
        var index = 0
        while index < path.count {
            // Every request passes here: eight bytes at a time up to the next one that needs a look.
            if index + 8 <= path.count {
                let special = specialBytes(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                guard special != 0 else {
                    index += 8
                    continue
                }
                index += special.trailingZeroBitCount / 8
            }
            let byte = path[index]
            if byte == UInt8(ascii: "/") {
                if isDotSegment(path, from: segmentStart, to: index) { return "dot segments in the path" }
                segmentStart = index + 1
            } else if byte == UInt8(ascii: "%"), index + 2 < path.count {
                // %2F, %5C, %00 and %2E are refused in any case.
                let pair = (path[index + 1] | 0x20, path[index + 2] | 0x20)
                if pair == (0x32, 0x66) || pair == (0x35, 0x63) || pair == (0x30, 0x30) || pair == (0x32, 0x65) {
                    return "encoded separators or dots in the path"
                }
            } else if !isAllowed(byte) {
                return "invalid characters in the request target"
            }
            index += 1
        }
        return isDotSegment(path, from: segmentStart, to: path.count) ? "dot segments in the path" : nil
    }

    /// Controls, spaces, non-ASCII and `#` (the query may hold `\\`, `%2F` and dots).
    private static func queryRejection(_ query: UnsafeBufferPointer<UInt8>) -> String? {
        for byte in query where byte < 0x21 || byte > 0x7E || byte == UInt8(ascii: "#") {
            return "invalid characters in the request target"
        }
        return nil
    }

    /// The high bit of each byte of `word` (little-endian) that is a control, space, DEL, non-ASCII,
    /// `/`, `%`, `\\` or `#`. Bits above the first such byte may be spurious (borrows); the lowest is exact.
    @inline(__always) private static func specialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func zeroBytes(_ value: UInt64) -> UInt64 { (value &- ones) & ~value & highs }
        let belowBang = (word &- ones &* 0x21) & ~word & highs
        return belowBang | (word & highs) | zeroBytes(word ^ (ones &* 0x7F)) | zeroBytes(word ^ (ones &* 0x2F))
            | zeroBytes(word ^ (ones &* 0x25)) | zeroBytes(word ^ (ones &* 0x5C)) | zeroBytes(word ^ (ones &* 0x23))
    }

    /// In the path; the query may also hold `\\`.
    @inline(__always) private static func isAllowed(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "#")
    }

    /// `.` or `..` between `from` and `to`.
    @inline(__always) private static func isDotSegment(_ path: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Bool {
        let length = to - from
        return (length == 1 || length == 2) && path[from] == UInt8(ascii: ".") && path[to - 1] == UInt8(ascii: ".")
    }
}
