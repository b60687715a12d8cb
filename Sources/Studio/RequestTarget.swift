/// The path and query of a request target, after the checks of DESIGN §4 that keep the gateway
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
        var originForm = Substring(target)
        if !target.hasPrefix("/") {
            let lower = target.lowercased()
            guard let schemeEnd = lower.range(of: "://"), ["http", "https"].contains(String(lower[..<schemeEnd.lowerBound])) else {
                return .failure(.badRequest("request target must be a path"))
            }
            let afterScheme = target[schemeEnd.upperBound...]
            let authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
            guard ownAuthorities.contains(where: { asciiLower($0) == asciiLower(String(authority)) }) else {
                return .failure(.badRequest("absolute-form target for another host"))
            }
            originForm = afterScheme[authority.endIndex...]
            if originForm.isEmpty || originForm.first == "?" { originForm = "/" + originForm }
        }
        // Split on the first "?" over UTF-8 (every request passes here).
        let utf8 = originForm.utf8
        let mark = utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = mark.map { originForm[..<$0] } ?? originForm
        let query = mark.map { originForm[originForm.utf8.index(after: $0)...] } ?? ""
        // Over contiguous bytes when the string is native (always, for parsed requests).
        let why: String?
        if let checked = path.utf8.withContiguousStorageIfAvailable({ pathBytes in
            query.utf8.withContiguousStorageIfAvailable { queryBytes in rejection(path: pathBytes, query: queryBytes) }
        }), let outcome = checked {
            why = outcome
        } else {
            why = rejection(path: path.utf8, query: query.utf8)
        }
        if let why { return .failure(.badRequest(why)) }
        return .success(RequestTarget(path: String(path), query: String(query)))
    }

    private static func asciiLower(_ text: String) -> String { text.lowercased() }

    /// One pass over the bytes (this runs on every request): controls, spaces, non-ASCII, `\\`
    /// and `#` anywhere; `.`/`..` segments and encoded `/`, `\\`, NUL or `.` in the path.
    private static func rejection<Bytes: Collection<UInt8>>(path: Bytes, query: Bytes) -> String? {
        if query.contains(where: { $0 < 0x21 || $0 > 0x7E || $0 == UInt8(ascii: "#") }) { return "invalid characters in the request target" }
        var previous: (UInt8, UInt8, UInt8) = (0, 0, 0)  // the three bytes before this one
        var segmentLength = 0
        var segmentDots = 0
        func endSegment() -> String? {
            segmentLength > 0 && segmentLength == segmentDots && segmentDots <= 2 ? "dot segments in the path" : nil
        }
        for byte in path {
            if byte < 0x21 || byte > 0x7E || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "#") {
                return "invalid characters in the request target"
            }
            if previous.1 == UInt8(ascii: "%") {
                // `%XY` complete: %2F, %5C, %00 and %2E are refused in any case.
                let pair = (previous.2 | 0x20, byte | 0x20)
                if pair == (0x32, 0x66) || pair == (0x35, 0x63) || pair == (0x30, 0x30) || pair == (0x32, 0x65) {
                    return "encoded separators or dots in the path"
                }
            }
            if byte == UInt8(ascii: "/") {
                if let why = endSegment() { return why }
                segmentLength = 0
                segmentDots = 0
            } else {
                segmentLength += 1
                if byte == UInt8(ascii: ".") { segmentDots += 1 }
            }
            previous = (previous.1, previous.2, byte)
        }
        return endSegment()
    }
}
