/// Where Redis is and how to log in: `redis://[user][:password@]host[:port][/db]`, the same over TLS
/// as `rediss://…`, or `unix:///path/to/socket[?db=N]`. The password can come from the URL (percent-encoded if it has
/// special characters) or from an explicit override (`STUDIOGATE_REDIS_PASSWORD`), which wins.
/// Descriptions show `***` in place of a password; parse errors never repeat the URL.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        /// A host name or an IP literal (IPv6 without brackets).
        case tcp(host: String, port: UInt16)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    /// Redis 6 ACL user; nil for `requirepass` (AUTH with the password alone).
    public var username: String?
    public var password: RedisSecret?
    public var database: Int
    /// `rediss://`: TCP through TLS, the certificate checked against the host.
    public var usesTLS: Bool

    /// The same for both schemes: Redis over TLS has no port of its own.
    public static let defaultPort: UInt16 = 6379

    public init(
        endpoint: Endpoint, username: String? = nil, password: RedisSecret? = nil, database: Int = 0,
        usesTLS: Bool = false
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.usesTLS = usesTLS
    }

    /// `password` (when not nil) replaces a password in the URL.
    public init(parsing text: String, password override: String? = nil) throws(RedisURLError) {
        guard let schemeEnd = text.firstRange(of: "://") else { throw .notAURL }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let rest = text[schemeEnd.upperBound...]
        switch scheme {
        case "redis":
            self = try Self.parseTCP(rest)
        case "unix":
            self = try Self.parseUnix(rest)
        case "rediss":
            self = try Self.parseTCP(rest)
            usesTLS = true
        default:
            throw .unsupportedScheme
        }
        if let override { password = RedisSecret(override) }
        if username != nil && password == nil { throw .userWithoutPassword }
    }

    public var description: String {
        var text: String
        switch endpoint {
        case .tcp(let host, let port):
            var credentials = username ?? ""
            if password != nil { credentials += ":***" }
            text = (usesTLS ? "rediss://" : "redis://") + (credentials.isEmpty ? "" : credentials + "@")
            text += (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
            if database != 0 { text += "/\(database)" }
        case .unix(let path):
            text = "unix://" + path
            if database != 0 { text += "?db=\(database)" }
            if let username { text += " as \(username)" }
            if password != nil { text += " with password ***" }
        }
        return text
    }

    public var debugDescription: String { description }

    // MARK: parsing

    private static func parseTCP(_ rest: Substring) throws(RedisURLError) -> RedisURL {
        if rest.contains("#") { throw .unexpectedPart("a fragment (#)") }
        // Host, port and db never hold an '@', so the last one ends the credentials (a password
        // with an unencoded '@' or '/' still parses).
        var username: String? = nil
        var password: RedisSecret? = nil
        var location = rest
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            location = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = try percentDecoded(userinfo[..<colon], what: "user name")
                username = user.isEmpty ? nil : user
                password = RedisSecret(try percentDecoded(userinfo[userinfo.index(after: colon)...], what: "password"))
            } else {
                let user = try percentDecoded(userinfo, what: "user name")
                username = user.isEmpty ? nil : user
            }
        }
        if location.contains("?") { throw .unexpectedPart("query parameters (use /db for the database)") }
        var hostPort = location
        var database = 0
        if let slash = location.firstIndex(of: "/") {
            hostPort = location[..<slash]
            let path = location[location.index(after: slash)...]
            if !path.isEmpty { database = try parseDatabase(path) }
        }
        let (host, port) = try parseHostPort(hostPort)
        return RedisURL(
            endpoint: .tcp(host: host, port: port), username: username, password: password,
            database: database)
    }

    private static func parseUnix(_ rest: Substring) throws(RedisURLError) -> RedisURL {
        if rest.contains("#") { throw .unexpectedPart("a fragment (#)") }
        var path = rest
        var database = 0
        if let question = rest.firstIndex(of: "?") {
            path = rest[..<question]
            for parameter in rest[rest.index(after: question)...].split(separator: "&") {
                guard parameter.hasPrefix("db=") else {
                    throw .unexpectedPart("a query parameter other than db= (the password comes from the environment)")
                }
                database = try parseDatabase(parameter.dropFirst(3))
            }
        }
        guard path.hasPrefix("/") else { throw .relativeSocketPath }
        // sockaddr_un.sun_path holds 108 bytes with the terminating NUL.
        guard path.utf8.count < 108 else { throw .socketPathTooLong }
        return RedisURL(endpoint: .unix(path: String(path)), database: database)
    }

    private static func parseHostPort(_ text: Substring) throws(RedisURLError) -> (String, UInt16) {
        var host = text
        var portText: Substring? = nil
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .invalidHost }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidHost }
                portText = after.dropFirst()
            }
        } else if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw .missingHost }
        guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-_:".contains($0)) }) else {
            throw .invalidHost
        }
        guard let portText else { return (String(host), defaultPort) }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCII), let port = UInt16(portText), port > 0 else {
            throw .invalidPort
        }
        return (String(host), port)
    }

    private static func parseDatabase(_ text: Substring) throws(RedisURLError) -> Int {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }), let database = Int(text)
        else { throw .invalidDatabase }
        return database
    }

    /// `%XX` sequences to bytes; the result must be UTF-8.
    private static func percentDecoded(_ text: Substring, what: String) throws(RedisURLError) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            let high = iterator.popFirst().flatMap(hexValue)
            let low = iterator.popFirst().flatMap(hexValue)
            guard let high, let low else { throw .invalidPercentEncoding(what) }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .invalidPercentEncoding(what) }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why a Redis URL was refused. The messages never quote the URL: it may hold a password.
public enum RedisURLError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAURL
    /// Not named in the message: text before "://" could be a mistyped password.
    case unsupportedScheme
    case missingHost
    case invalidHost
    case invalidPort
    case invalidDatabase
    case invalidPercentEncoding(String)
    case unexpectedPart(String)
    case relativeSocketPath
    case socketPathTooLong
    case userWithoutPassword

    public var description: String {
        let forms =
            "use redis://[user][:password@]host[:port][/db], rediss://… (TLS) or unix:///path/to/socket[?db=N]"
        return switch self {
        case .notAURL: "the Redis address is not a URL; \(forms)"
        case .unsupportedScheme: "the Redis URL's scheme is not redis://, rediss:// or unix://; \(forms)"
        case .missingHost: "the Redis URL has no host; \(forms)"
        case .invalidHost: "the Redis URL's host is not a host name or IP address"
        case .invalidPort: "the Redis URL's port is not a number from 1 to 65535"
        case .invalidDatabase: "the Redis database is not a number (redis://host/N or unix:///path?db=N)"
        case .invalidPercentEncoding(let part): "the Redis URL's \(part) has an invalid %-escape"
        case .unexpectedPart(let part): "the Redis URL has \(part), which is not supported; \(forms)"
        case .relativeSocketPath: "the Redis socket path must be absolute: unix:///path/to/socket"
        case .socketPathTooLong: "the Redis socket path is longer than 107 bytes"
        case .userWithoutPassword: "the Redis URL names a user but no password (give it in the URL or the environment)"
        }
    }
}
