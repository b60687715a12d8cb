import Cache
import HTTP
import Studio
import Upstream

/// Builds what a client receives, in the form it asked for (gzip or identity, Execution or
/// Engagement view). Entries are sent from their stored bytes: no JSON work on a hit. Pure: a form
/// it had to make (an Engagement view, a short-lived entry's gzip body) comes back in `keep`, for
/// the caller to store, so rendering never takes a cache lock.
struct Renderer: Sendable {
    let forms: EntryForms
    /// Inflated bodies of hot entries for identity clients (bounded; see `InflatedBodies`).
    let inflated: InflatedBodies

    /// `fresh`: the bodies a miss has at hand (nil on hits and stale answers). `keep`: set to the
    /// entry with the form made for this reply, to be kept in place of the one rendered. (An out
    /// parameter, not a returned pair: a pair holding the response is copied out on every hit.)
    func reply(
        _ entry: CachedResponse, _ outcome: CacheOutcome, now: Double, forward: Forward, fresh: FreshBodies? = nil,
        keep: inout CachedResponse?
    ) -> HTTPResponse {
        var entry = entry
        var fresh = fresh
        if forward.route.viaEngagements, entry.engagementGzip == nil {
            // The view was not made yet (a waiter behind an Execution-view leader, or an entry
            // first stored by an Execution route): made once, kept with the entry.
            let viewed = forms.addingEngagementView(to: entry, execution: fresh?.execution)
            entry = viewed.entry
            keep = viewed.entry
            if fresh != nil { fresh?.engagement = viewed.engagement }
        }
        let age = outcome == .miss ? nil : Int(max(0, now - entry.storedAt))
        let (body, gzip) = body(of: entry, keep: &keep, forward: forward, fresh: fresh)
        // Made in one place: several `return HTTPResponse(...)` paths cost a copy of the response
        // where they meet.
        return HTTPResponse(
            status: entry.status, rendered: (entry.fields, outcome.renderedFields(gzip: gzip)),
            inlineField: entry.requestIDField, age: age, body: body)
    }

    /// The body this client gets, and whether it is the gzip one.
    private func body(
        of entry: CachedResponse, keep: inout CachedResponse?, forward: Forward, fresh: FreshBodies?
    ) -> (body: [UInt8], gzip: Bool) {
        if forward.route.viaEngagements, let engagement = entry.engagementGzip {
            if forward.acceptsGzip { return (engagement, true) }
            let body =
                fresh?.engagement
                ?? inflated.body(of: entry, engagementView: true) { EntryForms.inflated(engagement) }
            return (body, false)
        }
        // A gzip client gets the stored gzip; a short-lived entry is compressed on its first such
        // hit (a miss answers with the identity body it has at hand instead).
        if forward.acceptsGzip {
            if let gzip = entry.gzipBody { return (gzip, true) }
            if fresh == nil, let compressed = EntryForms.addingGzip(to: entry), let gzip = compressed.gzipBody {
                keep = compressed
                return (gzip, true)
            }
        }
        if let identity = fresh?.execution ?? entry.identityBody { return (identity, false) }
        // Stored compressed only (a permanent entry): inflate, once per hot entry.
        let gzip = entry.gzipBody ?? []
        return (inflated.body(of: entry, engagementView: false) { EntryForms.inflated(gzip) }, false)
    }

    /// An answer passed on: its Execution view, translated again for Engagement routes.
    func passThrough(_ answer: UpstreamAnswer, _ outcome: CacheOutcome, forward: Forward) -> HTTPResponse {
        var headers = answer.headers
        headers.add("X-Cache", outcome.headerValue)
        var body = answer.body
        if forward.route.viaEngagements { body = forms.engagementBody(from: body) }
        return HTTPResponse(status: answer.status, headers: headers, body: body)
    }

    /// A refusal or failure in Twilio's error shape.
    static func error(_ error: TwilioError, _ outcome: CacheOutcome = .bypass) -> HTTPResponse {
        HTTPResponse(
            status: error.status, headers: ["Content-Type": "application/json", "X-Cache": outcome.headerValue],
            text: error.json)
    }

    static func failure(_ failure: UpstreamFailure, _ outcome: CacheOutcome) -> HTTPResponse {
        switch failure {
        case .timeout: error(.gatewayTimeout("The upstream Studio API did not answer in time"), outcome)
        case .unreachable(let why): error(.badGateway("The upstream Studio API is unreachable: \(why)"), outcome)
        case .overloaded:
            error(.serviceUnavailable("Too many requests are waiting for the upstream Studio API"), outcome)
        case .invalidResponse: error(.badGateway("The upstream Studio API sent a body that is not JSON"), outcome)
        case .bodyTooLarge(let limit):
            error(.badGateway("The upstream Studio API sent a body over \(limit) bytes"), outcome)
        case .cancelled: error(.badGateway("The upstream call was cancelled"), outcome)
        }
    }

    static func text(_ status: HTTPStatus, _ body: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: ["Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"],
            text: body)
    }
}
