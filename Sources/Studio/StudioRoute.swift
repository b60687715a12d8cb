import HTTP

/// A request path the gateway knows, with its SIDs already validated.
public struct StudioRoute: Equatable, Sendable {
    public enum Version: String, Sendable { case v1, v2 }

    public enum Resource: String, Sendable, CaseIterable {
        case executionList, execution, executionContext, stepList, step, stepContext
        /// Flows, Revisions, TestUsers, Validate: forwarded, never cached.
        case flowAdmin

        /// The position in this list (in `allCases`): metrics and cache keys number resources by it.
        public var ordinal: Int {
            switch self {
            case .executionList: 0
            case .execution: 1
            case .executionContext: 2
            case .stepList: 3
            case .step: 4
            case .stepContext: 5
            case .flowAdmin: 6
            }
        }
    }

    public var version: Version
    public var resource: Resource
    public var flow: SID?
    public var execution: SID?
    public var step: SID?
    /// The request used the deprecated v1 Engagement paths (answered through Executions).
    public var viaEngagements: Bool = false
    /// As bits (GET, POST, DELETE: all a Studio route answers), not an array: a route is copied
    /// several times per request, and an array is one more reference to count each time.
    private var methods: UInt8

    public init(
        version: Version, resource: Resource, flow: SID?, execution: SID?, step: SID?, viaEngagements: Bool = false,
        allowedMethods: [HTTPMethod], requestPath: String
    ) {
        precondition(allowedMethods.allSatisfy(Self.routable.contains), "Studio routes answer GET, POST and DELETE")
        self.version = version
        self.resource = resource
        self.flow = flow
        self.execution = execution
        self.step = step
        self.viaEngagements = viaEngagements
        methods = Self.routable.indices.reduce(0) { bits, index in
            allowedMethods.contains(Self.routable[index]) ? bits | 1 << index : bits
        }
        self.requestPath = requestPath
    }

    private static let routable: [HTTPMethod] = [.get, .post, .delete]

    /// In the order an `Allow` field lists them.
    public var allowedMethods: [HTTPMethod] {
        Self.routable.indices.filter { methods & 1 << $0 != 0 }.map { Self.routable[$0] }
    }

    /// The path sent upstream: Engagement paths become the matching Execution paths.
    public var upstreamPath: String {
        guard viaEngagements, let flow, resource != .flowAdmin else { return requestPath }
        return Self.executionsPath(version, resource, flow: flow, execution: execution, step: step)
    }

    /// The Executions-family path of `resource` (not `.flowAdmin`) under `flow`: what Engagement
    /// routes are sent upstream as, and what a cache key renders back.
    public static func executionsPath(
        _ version: Version, _ resource: Resource, flow: SID, execution: SID?, step: SID?
    ) -> String {
        let path = "/\(version.rawValue)/Flows/\(flow)/Executions"
        guard let execution else { return path }
        let executionPath = path + "/\(execution)"
        switch resource {
        case .executionContext: return executionPath + "/Context"
        case .stepList: return executionPath + "/Steps"
        case .step: return executionPath + "/Steps/\(step!)"
        case .stepContext: return executionPath + "/Steps/\(step!)/Context"
        default: return executionPath
        }
    }

    /// The path as the client sent it (already validated segment by segment).
    public var requestPath: String

    public func allows(_ method: HTTPMethod) -> Bool {
        if method == .get { return methods & 1 != 0 }  // a hit's method: one comparison
        return allowedMethods.contains(method)
    }
}
