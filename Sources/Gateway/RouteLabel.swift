import Studio

/// A route's name in metrics (`v2_execution_context`, `v1_engagement_step`…), kept as a small
/// integer on the request path and turned into text only when /metrics is rendered.
struct RouteLabel: Hashable, Sendable {
    let code: Int

    static let unmatched = RouteLabel(code: 0)
    static let operations = RouteLabel(code: 1)
    /// In `ordinal` order, which `init(_:)` numbers them by.
    private static let resources = StudioRoute.Resource.allCases

    /// Codes run from 0 to `count - 1`.
    static let count = 2 + 2 * resources.count * 2

    init(code: Int) { self.code = code }

    init(_ route: StudioRoute) {
        code =
            2 + ((route.version == .v1 ? 0 : 1) * Self.resources.count + route.resource.ordinal) * 2
            + (route.viaEngagements ? 1 : 0)
    }

    var name: String {
        if code == 0 { return "unmatched" }
        if code == 1 { return "operations" }
        let index = (code - 2) / 2
        var resource = Self.resources[index % Self.resources.count].rawValue
        if (code - 2) % 2 == 1 { resource = resource.replacingOccurrences(of: "execution", with: "engagement") }
        let version = index / Self.resources.count == 0 ? "v1" : "v2"
        var snake = ""
        for character in resource {
            if character.isUppercase { snake += "_" + character.lowercased() } else { snake.append(character) }
        }
        return version + "_" + snake
    }
}
