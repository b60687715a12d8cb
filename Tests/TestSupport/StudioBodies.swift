import HTTP
import Studio
import Upstream

/// Studio answers as Twilio shapes them (the spec's field names), for the scripted upstream.
enum StudioBodies {
    static let accountA = "AC" + String(repeating: "a", count: 32)
    static let accountB = "AC" + String(repeating: "b", count: 32)
    static let flow = "FW" + String(repeating: "f", count: 32)
    static let authA = BasicCredentials(username: accountA, password: "token-a").authorizationValue
    static let authA2 = BasicCredentials(username: accountA, password: "token-a-second").authorizationValue
    static let authB = BasicCredentials(username: accountB, password: "token-b").authorizationValue
    static let keyA = BasicCredentials(username: "SK" + String(repeating: "c", count: 32), password: "k")
        .authorizationValue

    static func execution(_ number: Int) -> String { "FN" + String(format: "%032x", number) }
    static func path(_ execution: String, _ tail: String = "", version: String = "v2") -> String {
        "/\(version)/Flows/\(flow)/Executions/\(execution)\(tail)"
    }

    static func executionJSON(_ sid: String, account: String = accountA, status: String, version: String = "v2")
        -> String
    {
        let url = "https://studio.twilio.com/\(version)/Flows/\(flow)/Executions/\(sid)"
        return """
            {"sid": "\(sid)", "account_sid": "\(account)", "flow_sid": "\(flow)", "status": "\(status)", \
            "url": "\(url)", "links": {"steps": "\(url)/Steps", "execution_context": "\(url)/Context"}}
            """
    }

    static func contextJSON(_ sid: String, account: String = accountA) -> String {
        let url = "https://studio.twilio.com/v2/Flows/\(flow)/Executions/\(sid)/Context"
        return """
            {"account_sid": "\(account)", "execution_sid": "\(sid)", "flow_sid": "\(flow)", \
            "context": {"flow": {"data": {"note": "https://studio.twilio.com/v2/untouched"}}}, "url": "\(url)"}
            """
    }

    static func listJSON(_ items: [String], account: String = accountA) -> String {
        let url = "https://studio.twilio.com/v2/Flows/\(flow)/Executions"
        return """
            {"executions": [\(items.joined(separator: ", "))], "meta": {"page": 0, "page_size": 50, \
            "first_page_url": "\(url)?PageSize=50&Page=0", "previous_page_url": null, "url": "\(url)?PageSize=50&Page=0", \
            "next_page_url": null, "key": "executions"}}
            """
    }

    static func ok(_ json: String, status: HTTPStatus = 200) -> Result<UpstreamResponse, UpstreamFailure> {
        .success(
            UpstreamResponse(
                status: status, headers: ["Content-Type": "application/json", "Twilio-Request-Id": "RQ1"],
                body: Array(json.utf8)))
    }

    static func twilioError(_ status: HTTPStatus, code: Int) -> Result<UpstreamResponse, UpstreamFailure> {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if status == 401 { headers.add("WWW-Authenticate", #"Basic realm="Twilio API""#) }
        let body =
            #"{"code": \#(code), "message": "x", "more_info": "https://www.twilio.com/docs/errors/\#(code)", "status": \#(status)}"#
        return .success(UpstreamResponse(status: status, headers: headers, body: Array(body.utf8)))
    }
}
