import Cache

/// How an entry's bodies travel through Redis. A pod's entries hold bodies already rewritten to
/// its own `--public-url`, which the other pods must not answer with: the gateway writes them to
/// Redis in a form no pod's URL is part of (`toFleet`) and turns that into its own on adoption
/// (`fromFleet`). Both run off the first level's hit path: on a share after an upstream call, and
/// on a second-level hit, whose adopted entry then serves this pod's own bytes from the first level.
public struct FleetForm: Sendable {
    public let toFleet: @Sendable (CachedResponse) -> CachedResponse
    public let fromFleet: @Sendable (CachedResponse) -> CachedResponse

    public init(
        toFleet: @escaping @Sendable (CachedResponse) -> CachedResponse,
        fromFleet: @escaping @Sendable (CachedResponse) -> CachedResponse
    ) {
        self.toFleet = toFleet
        self.fromFleet = fromFleet
    }

    /// Bodies stored as they are held (tests of the fleet's own rules).
    public static let unchanged = FleetForm(toFleet: { $0 }, fromFleet: { $0 })
}
