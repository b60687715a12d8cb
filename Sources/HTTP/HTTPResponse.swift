/// A response as handlers produce it. The server adds framing headers
/// (Content-Length, Connection, Date) when it serialises it.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Fields rendered ahead of time, sent after `headers`: a cached entry's own, then the fixed
    /// fields of how it was served. Copied as they are (no per-field work per request).
    public var rendered: (RenderedFields, RenderedFields)
    /// A short field kept inline (an entry's request id), sent between the two rendered blocks.
    public var inlineField: InlineField?
    /// `Age` (RFC 9111 §5.1) of an answer from a cache, written as a number without a string.
    public var age: Int?

    /// Every field the head will carry besides the server's framing (tests, logs; not per request).
    public var allFields: HTTPHeaders {
        var all = headers
        for (name, value) in rendered.0.fields { all.add(name, value) }
        if let inlineField { all.add(inlineField.name.description, inlineField.value) }
        for (name, value) in rendered.1.fields { all.add(name, value) }
        if let age { all.add("Age", String(age)) }
        return all
    }

    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
        rendered = (.none, .none)
    }

    /// A cached answer: its fields all rendered ahead, no `headers` list. (Inlinable: made once
    /// per hit, in place in the caller.)
    @inlinable public init(
        status: HTTPStatus, rendered: (RenderedFields, RenderedFields), inlineField: InlineField?, age: Int?,
        body: [UInt8]
    ) {
        self.status = status
        self.headers = HTTPHeaders()
        self.body = body
        self.rendered = rendered
        self.inlineField = inlineField
        self.age = age
    }

    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), text: String) {
        self.init(status: status, headers: headers, body: Array(text.utf8))
    }
}

/// What a handler hands back: a response, or (for fault injection) an abrupt reset.
public enum HTTPReply: Sendable {
    case response(HTTPResponse)
    /// Close the connection with RST and no response bytes.
    case resetConnection
    /// Write these bytes verbatim, then close (fault injection: truncated or malformed responses).
    case raw([UInt8])
}

/// Hop-by-hop fields: meaningful for one connection only, never forwarded (RFC 9110 §7.6.1).
public enum HopByHop {
    public static let names: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// True for the fixed hop-by-hop names and for any field the Connection header names.
    public static func isHopByHop(_ name: String, connectionTokens: [String]) -> Bool {
        let lower = name.lowercased()
        return names.contains(lower) || connectionTokens.contains(lower)
    }
}
