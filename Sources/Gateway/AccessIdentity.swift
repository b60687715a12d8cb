import HTTP

/// What the access log line says about who asked and in which trace: read from the request only
/// when that line is written (never at `--log-level warn`, which the hit benchmark runs at), from
/// fields the parser already holds, and the caller's user from the credential already derived.
struct AccessIdentity: Sendable {
    var traceID: String?
    var userAgent: String
    var caller: String?

    init(_ request: HTTPRequest) {
        var traceID: String? = nil
        _ = request.withField("traceparent") { traceID = TraceContext.traceID($0) }
        self.traceID = traceID
        userAgent = CallerName.product(of: request)
    }
}
