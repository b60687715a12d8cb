import HTTP

/// `studiogate_requests_total` by route, status and cache result. Every answer adds one, so the
/// usual labels are slots in each loop's `LoopCounters` (no hashing, no lock); rare statuses go to
/// a dictionary `Telemetry` keeps.
enum RequestCounts {
    struct Label: Hashable {
        var route: RouteLabel
        var status: HTTPStatus
        var cache: CacheOutcome?
    }

    private static let statuses: [HTTPStatus] = [
        200, 201, 204, 304, 400, 401, 403, 404, 405, 429, 499, 500, 502, 503, 504,
    ]
    private static let outcomes: [CacheOutcome?] = [nil, .hit, .fleetHit, .miss, .stale, .bypass]

    /// Slots run from 0 to `slots - 1`.
    static let slots = RouteLabel.count * statuses.count * outcomes.count

    /// The label a slot counts (`slot(label(at: n)) == n`).
    static func label(at slot: Int) -> Label {
        Label(
            route: RouteLabel(code: slot / (statuses.count * outcomes.count)),
            status: statuses[slot / outcomes.count % statuses.count], cache: outcomes[slot % outcomes.count])
    }

    /// nil: a status without a slot.
    static func slot(_ label: Label) -> Int? {
        let status: Int
        switch label.status.code {
        case 200: status = 0
        case 201: status = 1
        case 204: status = 2
        case 304: status = 3
        case 400: status = 4
        case 401: status = 5
        case 403: status = 6
        case 404: status = 7
        case 405: status = 8
        case 429: status = 9
        case 499: status = 10
        case 500: status = 11
        case 502: status = 12
        case 503: status = 13
        case 504: status = 14
        default: return nil
        }
        let outcome: Int
        switch label.cache {
        case nil: outcome = 0
        case .hit: outcome = 1
        case .fleetHit: outcome = 2
        case .miss: outcome = 3
        case .stale: outcome = 4
        case .bypass: outcome = 5
        }
        return (label.route.code * statuses.count + status) * outcomes.count + outcome
    }
}
