import Cache
import EventLoop
import Fleet
import Foundation
import HTTP
import HTTPServer
import Studio

/// The admin listener (`--admin-listen`): cache stats, entry metadata (never bodies) and purges.
/// With `--admin-token`, every request needs `Authorization: Bearer <token>`, compared in
/// constant time.
///
/// - `GET /admin/`: the status page (`StatusPage`)
/// - `GET /admin/stats`
/// - `GET /admin/engagements`: who still calls the v1 Engagement routes (`EngagementCallers`)
/// - `GET /admin/entries?execution=FN…` or `?flow=FW…` or `?account=AC…` (combinable)
/// - `POST /admin/purge?execution=FN…` or `?flow=FW…` or `?account=AC…`: `account` alone purges
///   that tenant's entries; with `execution` or `flow` it narrows that purge to the one account.
///   With a fleet the purge is fleet-wide: the Redis copies are deleted and every pod drops its own
///   (within the pub/sub delay); the answer says what this pod and Redis removed.
/// - `POST /admin/purge?contact=FC…` or `?address=%2B1…` (the contact channel address; a `+`
///   left unencoded is read back as one): an erasure, every entry of every execution of that
///   contact this pod or (with a fleet) any pod has seen, on every pod and in Redis.
public struct AdminHandler: HTTPHandler {
    let admin: CacheAdministration
    let token: [UInt8]?

    public init(gateway: Gateway, token: String?) {
        admin = gateway.administration
        self.token = token.map { Array($0.utf8) }
    }

    public func handle(_ request: HTTPRequest, responder: Responder) {
        answer(request, on: responder.loop) { responder.respond($0) }
    }

    /// `reply` runs once, at once or (a fleet-wide purge) when Redis has answered, on `loop`.
    func answer(_ request: HTTPRequest, on loop: EventLoop, _ reply: @escaping (HTTPResponse) -> Void) {
        if request.method == "POST", request.pathAndQuery.0 == "/admin/purge", authorized(request),
            let scope = try? purgeScope(request)
        {
            // A contact's executions as this pod knows them, before its purge forgets them.
            let known = scope.contact.map { admin.store.statuses.executions(of: $0) } ?? []
            let purged = purgeHere(scope)
            guard let fleet = admin.fleet else { return reply(Self.json(200, #"{"purged": \#(purged)}"#)) }
            return fleet.purge(scope, knownExecutions: known, on: loop) { [admin] removed in
                admin.logger.log(.info, "admin purge \(scope.description): \(removed) Redis entries, every pod told")
                reply(Self.json(200, #"{"purged": \#(purged), "redis_purged": \#(removed), "fleet_notified": true}"#))
            }
        }
        reply(answer(request))
    }

    private func purgeHere(_ scope: PurgeScope) -> Int {
        let purged = admin.store.purge(scope)
        admin.logger.log(.info, "admin purge \(scope.description): \(purged) entries")
        return purged
    }

    /// A monotonic time as a quoted UTC date (`"2026-01-02T03:04:05Z"`), or null for never.
    static func wallDate(_ monotonic: Double?, now: Double, wallNow: Double) -> String {
        guard let monotonic, monotonic.isFinite else { return "null" }
        let date = Date(timeIntervalSince1970: (wallNow + monotonic - now).rounded(.down))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return JSONText.quoted(formatter.string(from: date))
    }

    private func authorized(_ request: HTTPRequest) -> Bool {
        guard let token else { return true }
        let presented = Array((request.headers["Authorization"] ?? "").utf8)
        return Self.constantTimeEquals(presented, Array("Bearer ".utf8) + token)
    }

    private struct BadScope: Error {}

    /// The purge's scope from the query; nil when it names nothing, throws when a SID is malformed.
    private func purgeScope(_ request: HTTPRequest) throws -> PurgeScope? {
        let params = FormURLEncoded.parse(String(request.pathAndQuery.1))
        let execution = params.last { $0.name == "execution" }.flatMap { SID($0.value, prefix: "FN") }
        let flow = params.last { $0.name == "flow" }.flatMap { SID($0.value, prefix: "FW") }?.value
        let accountParam = params.last { $0.name == "account" }
        let account = accountParam.flatMap { SID($0.value, prefix: "AC") }?.value
        if accountParam != nil, account == nil { throw BadScope() }
        if let contact = try Self.contact(params) { return PurgeScope(contact: contact) }
        return PurgeScope(execution: execution, flow: flow, account: account)
    }

    /// `contact=FC…` or `address=…`; throws for a malformed contact SID or an empty address.
    private static func contact(_ params: [(name: String, value: String)]) throws -> ExecutionContact? {
        let sid = params.last { $0.name == "contact" }?.value
        var address = params.last { $0.name == "address" }?.value
        guard sid != nil || address != nil else { return nil }
        if let sid, SID(sid, prefix: "FC") == nil { throw BadScope() }
        // `+1555…` unencoded in a query decodes to ` 1555…`: a phone number never starts with a space.
        if let text = address, text.hasPrefix(" ") { address = "+" + text.dropFirst() }
        if let address, address.isEmpty { throw BadScope() }
        return ExecutionContact(sid: sid, address: address)
    }

    func answer(_ request: HTTPRequest) -> HTTPResponse {
        guard authorized(request) else { return Self.json(401, #"{"error": "admin token required"}"#) }
        let (pathPart, query) = request.pathAndQuery
        let path = String(pathPart)
        let params = FormURLEncoded.parse(String(query))
        let execution = params.last { $0.name == "execution" }.flatMap { SID($0.value, prefix: "FN") }
        let flow = params.last { $0.name == "flow" }.flatMap { SID($0.value, prefix: "FW") }?.value
        let accountParam = params.last { $0.name == "account" }
        let account = accountParam.flatMap { SID($0.value, prefix: "AC") }?.value
        if accountParam != nil, account == nil { return Self.json(400, #"{"error": "account must be an AC… SID"}"#) }
        let now = admin.clock()
        let wallNow = admin.wallClock()
        switch (request.method, path) {
        case ("GET", "/admin/"), ("GET", "/admin"):
            return Self.html(StatusPage.render(StatusFigures(admin)))
        case ("GET", "/admin/stats"):
            return Self.json(200, admin.telemetry.renderStats(admin.gauges))
        case ("GET", "/admin/engagements"):
            return Self.json(200, admin.engagements.renderJSON())
        case ("GET", "/admin/entries"):
            guard let scope = PurgeScope(execution: execution, flow: flow, account: account) else {
                return Self.json(400, #"{"error": "give execution=FN…, flow=FW… or account=AC…"}"#)
            }
            let entries = admin.store.entries(in: scope)
            let items = entries.map { key, entry in
                #"""
                {"account_sid": \#(JSONText.quoted(entry.account)), "resource": \#(JSONText.quoted(key.resource)), \#
                "status": \#(entry.status), "permanent": \#(entry.isPermanent), \#
                "age_seconds": \#(Int(now - entry.storedAt)), "size_bytes": \#(entry.cost(for: key)), \#
                "expires_at": \#(Self.wallDate(entry.expiresAt, now: now, wallNow: wallNow)), \#
                "retain_until": \#(Self.wallDate(entry.retainUntil, now: now, wallNow: wallNow)), \#
                "body_bytes": \#(entry.identityLength)}
                """#
            }
            return Self.json(200, #"{"entries": [\#(items.joined(separator: ", "))]}"#)
        case ("POST", "/admin/purge"):
            guard let scope = try? purgeScope(request) else {
                return Self.json(
                    400, #"{"error": "give execution=FN…, flow=FW…, account=AC…, contact=FC… or address=…"}"#)
            }
            let purged = purgeHere(scope)
            return Self.json(200, #"{"purged": \#(purged)}"#)
        default:
            // A known path with the wrong method is a 405 naming the right one; anything else 404.
            guard let allowed = Self.endpoints[path] else {
                return Self.json(404, #"{"error": "no such admin endpoint"}"#)
            }
            var response = Self.json(405, #"{"error": "use \#(allowed) \#(path)"}"#)
            response.headers.add("Allow", allowed)
            return response
        }
    }

    static let endpoints = [
        "/admin/": "GET", "/admin": "GET", "/admin/stats": "GET", "/admin/engagements": "GET",
        "/admin/entries": "GET", "/admin/purge": "POST",
    ]

    /// Compares without an early exit, so timing does not reveal how much of a guess was right.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// The status page: it may run no script and load nothing (the policy holds even if a value
    /// escaped the escaping), and no other site may frame it.
    static func html(_ body: String) -> HTTPResponse {
        HTTPResponse(
            status: 200,
            headers: [
                "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            ], text: body)
    }

    static func json(_ status: HTTPStatus, _ body: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"], text: body)
    }
}

/// What the admin listener may see and do: the cache and what it knows of executions, the
/// counters, the log. Nothing of the request path.
public struct CacheAdministration: Sendable {
    let store: EntryStore
    /// Purges reach the fleet's Redis and every pod.
    let fleet: Fleet?
    let telemetry: Telemetry
    let gauges: Telemetry.Gauges
    let logger: Logger
    let clock: @Sendable () -> Double
    /// The settings it started with (the status page shows the reloadable ones as reloaded).
    let config: GatewayConfig
    let engagements: EngagementCallers
    let history: RateHistory
    let wallClock: @Sendable () -> Double
}
