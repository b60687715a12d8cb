import HTTP

/// `studiogate_requests_total` by route, status and cache result. Every answer adds one, so the
/// usual labels are a slot in a flat array (no hashing under the lock); rare statuses go to a
/// dictionary.
struct RequestCounts {
    struct Label: Hashable {
        var route: RouteLabel
        var status: HTTPStatus
        var cache: CacheOutcome?
    }

    private static let statuses: [HTTPStatus] = [
        200, 201, 204, 304, 400, 401, 403, 404, 405, 429, 499, 500, 502, 503, 504,
    ]
    private static let outcomes: [CacheOutcome?] = [nil, .hit, .sharedHit, .miss, .stale, .bypass]
    private var dense = [Int](repeating: 0, count: RouteLabel.count * statuses.count * outcomes.count)
    private var rare: [Label: Int] = [:]

    mutating func add(_ label: Label) {
        guard let slot = Self.slot(label) else {
            rare[label, default: 0] += 1
            return
        }
        dense[slot] += 1
    }

    /// Every label counted at least once.
    var all: [(label: Label, count: Int)] {
        var all = rare.map { (label: $0.key, count: $0.value) }
        for route in 0..<RouteLabel.count {
            for status in Self.statuses {
                for outcome in Self.outcomes {
                    let label = Label(route: RouteLabel(code: route), status: status, cache: outcome)
                    let count = dense[Self.slot(label)!]
                    if count > 0 { all.append((label, count)) }
                }
            }
        }
        return all
    }

    private static func slot(_ label: Label) -> Int? {
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
        case .sharedHit: outcome = 2
        case .miss: outcome = 3
        case .stale: outcome = 4
        case .bypass: outcome = 5
        }
        return (label.route.code * statuses.count + status) * outcomes.count + outcome
    }
}
