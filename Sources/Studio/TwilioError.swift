import HTTP

/// An error body in Twilio's shape:
/// `{"code": 20404, "message": "...", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}`.
///
/// Codes follow Twilio where it has one (20003, 20004, 20404, 20429, 20500, 20503). For 400, 502 and
/// 504, which Twilio's API only produces at its edge, the gateway uses 20000 + status (documented).
public struct TwilioError: Equatable, Sendable {
    public var status: HTTPStatus
    public var code: Int
    public var message: String

    public init(status: HTTPStatus, code: Int, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var moreInfo: String { "https://www.twilio.com/docs/errors/\(code)" }

    public var json: String {
        #"""
        {"code": \#(code), "message": \#(JSONText.quoted(message)), \#
        "more_info": \#(JSONText.quoted(moreInfo)), "status": \#(status)}
        """#
    }

    public static func notFound(path: String) -> TwilioError {
        TwilioError(status: 404, code: 20404, message: "The requested resource \(path) was not found")
    }

    public static let unauthorized = TwilioError(status: 401, code: 20003, message: "Authenticate")

    public static func methodNotAllowed(_ method: HTTPMethod) -> TwilioError {
        TwilioError(status: 405, code: 20004, message: "Method \(method) not allowed")
    }

    public static func badRequest(_ why: String) -> TwilioError { TwilioError(status: 400, code: 20400, message: why) }

    public static func badGateway(_ why: String) -> TwilioError { TwilioError(status: 502, code: 20502, message: why) }

    public static func gatewayTimeout(_ why: String) -> TwilioError {
        TwilioError(status: 504, code: 20504, message: why)
    }

    public static func serviceUnavailable(_ why: String) -> TwilioError {
        TwilioError(status: 503, code: 20503, message: why)
    }

    public static let tooManyRequests = TwilioError(status: 429, code: 20429, message: "Too Many Requests")
}
