import HTTP
import Studio

/// How the access log and the Engagement report name a caller without a secret: the Basic user
/// (an `AC…` account or `SK…` API key SID; the password never leaves `CallerCredential`) and the
/// first product token of `User-Agent` (`twilio-python/9.13.0`). Both bounded and stripped of
/// anything but visible ASCII, so a client cannot forge log lines or grow the report's keys.
enum CallerName {
    /// A SID is 34 characters; anything else is cut there.
    static let userLimit = 34
    static let productLimit = 64

    /// The Basic user, sanitised.
    static func user(_ username: String) -> String { sanitised(username.utf8, limit: userLimit) }

    /// `product ["/" version]`: the leading run of token characters and "/", read in place.
    static func product(_ userAgent: UnsafeRawBufferPointer) -> String {
        var end = 0
        while end < userAgent.count, end < productLimit, isProductByte(userAgent[end]) { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: userAgent[0..<end]), as: UTF8.self)
    }

    static func product(_ userAgent: String) -> String {
        var text = userAgent
        return text.withUTF8 { product(UnsafeRawBufferPointer($0)) }
    }

    /// The product of a request's `User-Agent`; "" when it has none.
    static func product(of request: HTTPRequest) -> String {
        var found = ""
        _ = request.withField("User-Agent") { found = product($0) }
        return found
    }

    /// RFC 9110 tchar, plus "/" between product and version.
    private static func isProductByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default: return "!#$%&'*+-.^_`|~/".utf8.contains(byte)
        }
    }

    private static func sanitised(_ bytes: String.UTF8View, limit: Int) -> String {
        String(decoding: bytes.lazy.filter { $0 > 0x20 && $0 < 0x7F }.prefix(limit), as: UTF8.self)
    }
}
