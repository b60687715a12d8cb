import Locking
import Studio

/// Who still calls the deprecated v1 Engagement routes, for teams moving to Executions: requests
/// counted by caller (the Basic user: an account or API key SID), user-agent product and route,
/// with when each was first and last seen (epoch seconds). Bounded: past `capacity` callers the
/// least recently seen is dropped and counted, so a client inventing user agents cannot grow it.
/// The per-route totals are never dropped (`studiogate_engagement_requests_total`). Counted on
/// Engagement routes only, behind one short lock.
final class EngagementCallers: Sendable {
    struct Caller: Hashable, Sendable {
        var user: String
        var userAgent: String
        var route: RouteLabel
    }

    struct Seen: Sendable, Equatable {
        var requests: Int
        var firstSeen: Double
        var lastSeen: Double
    }

    struct Report: Sendable {
        /// Most recently seen first.
        var callers: [(caller: Caller, seen: Seen)]
        var dropped: Int
        var capacity: Int
        /// Every Engagement route, seen or not.
        var requestsByRoute: [(route: RouteLabel, requests: Int)]
    }

    let capacity: Int
    private let state = Locked(State())

    private struct State {
        var callers: [Caller: Seen] = [:]
        var dropped = 0
        var byRoute: [RouteLabel: Int] = [:]
    }

    init(capacity: Int = 4096) { self.capacity = capacity }

    func record(_ forward: Forward, route: RouteLabel, at now: Double) {
        let caller = Caller(
            user: CallerName.user(forward.username), userAgent: CallerName.product(of: forward.request), route: route)
        record(caller, at: now)
    }

    func record(_ caller: Caller, at now: Double) {
        state.withLock { state in
            state.byRoute[caller.route, default: 0] += 1
            if state.callers[caller] != nil {
                state.callers[caller]!.requests += 1
                state.callers[caller]!.lastSeen = now
                return
            }
            if state.callers.count >= capacity,
                let oldest = state.callers.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key
            {
                state.callers[oldest] = nil
                state.dropped += 1
            }
            state.callers[caller] = Seen(requests: 1, firstSeen: now, lastSeen: now)
        }
    }

    var report: Report {
        let (callers, dropped, byRoute) = state.withLock { ($0.callers, $0.dropped, $0.byRoute) }
        return Report(
            callers: callers.map { (caller: $0.key, seen: $0.value) }.sorted { a, b in
                // Almost always decided by the time alone; ties in a stable order.
                a.seen.lastSeen != b.seen.lastSeen
                    ? a.seen.lastSeen > b.seen.lastSeen
                    : (a.caller.user, a.caller.userAgent) < (b.caller.user, b.caller.userAgent)
            },
            dropped: dropped, capacity: capacity,
            requestsByRoute: RouteLabel.engagementRoutes.map { (route: $0, requests: byRoute[$0] ?? 0) })
    }

    /// `GET /admin/engagements`: no body, token or digest, only who called what and when.
    func renderJSON() -> String {
        let report = report
        let callers = report.callers.map { caller, seen in
            #"""
            {"caller": \#(JSONText.quoted(caller.user)), "user_agent": \#(JSONText.quoted(caller.userAgent)), \#
            "route": "\#(caller.route.engagementName)", "requests": \#(seen.requests), \#
            "first_seen": "\#(Logger.timestamp(epochSeconds: seen.firstSeen))", \#
            "last_seen": "\#(Logger.timestamp(epochSeconds: seen.lastSeen))", \#
            "first_seen_unix": \#(seen.firstSeen), "last_seen_unix": \#(seen.lastSeen)}
            """#
        }
        let routes = report.requestsByRoute.map { "\"\($0.route.engagementName)\": \($0.requests)" }
        return #"""
            {"callers": [\#(callers.joined(separator: ", "))], "callers_dropped": \#(report.dropped), \#
            "capacity": \#(report.capacity), "requests_by_route": {\#(routes.joined(separator: ", "))}}
            """#
    }

    /// `studiogate_engagement_requests_total` by route: no caller label (its cardinality is the clients').
    func metricSamples() -> [String] {
        report.requestsByRoute.map {
            "studiogate_engagement_requests_total{route=\"\($0.route.engagementName)\"} \($0.requests)"
        }
    }
}

extension RouteLabel {
    /// The v1 Engagement routes (the Engagement form of each Executions resource), in code order.
    static let engagementRoutes: [RouteLabel] = (2..<count).map(RouteLabel.init(code:)).filter {
        $0.isEngagement && !$0.name.hasSuffix("flow_admin")
    }

    /// `name`, with the steps under an Engagement named as such (`v1_engagement_step`): `name`
    /// calls them `v1_step`, like the Executions' steps, in `studiogate_requests_total`.
    var engagementName: String {
        let plain = name
        guard isEngagement, !plain.contains("engagement") else { return plain }
        return "v1_engagement_" + plain.dropFirst(3)
    }

    var isEngagement: Bool {
        code >= 2 && (code - 2) % 2 == 1 && (code - 2) / 2 < StudioRoute.Resource.allCases.count
    }
}
