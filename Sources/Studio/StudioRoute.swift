import HTTP

/// A request path the gateway knows, with its SIDs already validated.
public struct StudioRoute: Equatable, Sendable {
    public enum Version: String, Sendable { case v1, v2 }

    public enum Resource: String, Sendable {
        case executionList, execution, executionContext, stepList, step, stepContext
        /// Flows, Revisions, TestUsers, Validate: forwarded, never cached.
        case flowAdmin
    }

    public var version: Version
    public var resource: Resource
    public var flow: SID?
    public var execution: SID?
    public var step: SID?
    /// The request used the deprecated v1 Engagement paths (answered through Executions).
    public var viaEngagements: Bool = false
    public var allowedMethods: [HTTPMethod]

    /// The path sent upstream: Engagement paths become the matching Execution paths.
    public var upstreamPath: String {
        guard viaEngagements, let flow else { return requestPath }
        var path = "/\(version.rawValue)/Flows/\(flow)"
        if resource == .flowAdmin { return requestPath }
        path += "/Executions"
        guard let execution else { return path }
        path += "/\(execution)"
        switch resource {
        case .executionContext: return path + "/Context"
        case .stepList: return path + "/Steps"
        case .step: return path + "/Steps/\(step!)"
        case .stepContext: return path + "/Steps/\(step!)/Context"
        default: return path
        }
    }

    /// The path as the client sent it (already validated segment by segment).
    public var requestPath: String

    public func allows(_ method: HTTPMethod) -> Bool { allowedMethods.contains(method) }
}
