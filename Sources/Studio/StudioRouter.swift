/// Maps request paths to Studio routes (DESIGN §2). Pure: no I/O, no state.
public enum StudioRouter {
    public enum Match: Equatable, Sendable {
        case route(StudioRoute)
        /// Not a Studio path, or a malformed SID: Twilio-style 404 without an upstream call.
        case notFound
    }

    public static func match(path: String) -> Match {
        guard path.hasPrefix("/") else { return .notFound }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count >= 2, !segments.contains(where: \.isEmpty),
              let version = StudioRoute.Version(rawValue: String(segments[0])), segments[1] == "Flows"
        else { return .notFound }
        let rest = Array(segments.dropFirst(2))

        func route(_ resource: StudioRoute.Resource, _ methods: [String], flow: SID? = nil, execution: SID? = nil,
                   step: SID? = nil, engagements: Bool = false) -> Match {
            .route(StudioRoute(version: version, resource: resource, flow: flow, execution: execution, step: step,
                               viaEngagements: engagements, allowedMethods: methods, requestPath: path))
        }

        // /vN/Flows and the flow-level admin paths.
        if rest.isEmpty { return route(.flowAdmin, version == .v1 ? ["GET"] : ["GET", "POST"]) }
        if version == .v2, rest == ["Validate"] { return route(.flowAdmin, ["POST"]) }
        guard let flow = SID(rest[0], prefix: "FW") else { return .notFound }
        if rest.count == 1 { return route(.flowAdmin, version == .v1 ? ["GET", "DELETE"] : ["GET", "POST", "DELETE"], flow: flow) }
        if version == .v2 {
            switch (rest.count, rest[1]) {
            case (2, "Revisions"), (2, "TestUsers"):
                return route(.flowAdmin, rest[1] == "Revisions" ? ["GET"] : ["GET", "POST"], flow: flow)
            case (3, "Revisions") where rest[2].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }):
                return route(.flowAdmin, ["GET"], flow: flow)
            default:
                break
            }
        }

        // The Executions family, and on v1 its Engagement twin.
        let engagements = rest[1] == "Engagements"
        guard rest[1] == "Executions" || (engagements && version == .v1) else { return .notFound }
        if rest.count == 2 { return route(.executionList, ["GET", "POST"], flow: flow, engagements: engagements) }
        guard let execution = SID(rest[2], prefix: "FN") else { return .notFound }
        switch rest.count {
        case 3:
            // Engagements could be deleted but never updated.
            return route(.execution, engagements ? ["GET", "DELETE"] : ["GET", "POST", "DELETE"],
                         flow: flow, execution: execution, engagements: engagements)
        case 4 where rest[3] == "Context":
            return route(.executionContext, ["GET"], flow: flow, execution: execution, engagements: engagements)
        case 4 where rest[3] == "Steps":
            return route(.stepList, ["GET"], flow: flow, execution: execution, engagements: engagements)
        case 5 where rest[3] == "Steps":
            guard let step = SID(rest[4], prefix: "FT") else { return .notFound }
            return route(.step, ["GET"], flow: flow, execution: execution, step: step, engagements: engagements)
        case 6 where rest[3] == "Steps" && rest[5] == "Context":
            guard let step = SID(rest[4], prefix: "FT") else { return .notFound }
            return route(.stepContext, ["GET"], flow: flow, execution: execution, step: step, engagements: engagements)
        default:
            return .notFound
        }
    }
}
