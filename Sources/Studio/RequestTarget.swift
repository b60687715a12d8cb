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
        let path: Substring
        let query: Substring
        if let mark = originForm.firstIndex(of: "?") {
            path = originForm[..<mark]
            query = originForm[originForm.index(after: mark)...]
        } else {
            path = originForm
            query = ""
        }
        let lowerPath = path.lowercased()
        if lowerPath.contains("%2f") || lowerPath.contains("%5c") || lowerPath.contains("%00") || lowerPath.contains("%2e") {
            return .failure(.badRequest("encoded separators or dots in the path"))
        }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." }) {
            return .failure(.badRequest("dot segments in the path"))
        }
        if target.utf8.contains(where: { $0 < 0x21 || $0 > 0x7E }) || path.contains("\\") || path.contains("#") || query.contains("#") {
            return .failure(.badRequest("invalid characters in the request target"))
        }
        return .success(RequestTarget(path: String(path), query: String(query)))
    }

    private static func asciiLower(_ text: String) -> String { text.lowercased() }
}
