import Foundation

/// `Authorization: Basic base64(username:password)` as Twilio uses it: AC… or SK… and a secret.
public struct BasicCredentials: Equatable, Sendable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public init?(authorization: String?) {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let decoded = String(data: data, encoding: .utf8),
              let colon = decoded.firstIndex(of: ":")
        else { return nil }
        username = String(decoded[..<colon])
        password = String(decoded[decoded.index(after: colon)...])
        guard !username.isEmpty, !password.isEmpty else { return nil }
    }

    public var authorizationValue: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}
