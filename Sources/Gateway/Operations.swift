import Cache
import EventLoop
import HTTP
import Synchronization
import Upstream

/// `/healthz`, `/readyz`, `/upstreamz` and `/metrics` on the main listener; never forwarded.
struct Operations: Sendable {
    let telemetry: Telemetry
    let gauges: Telemetry.Gauges
    let upstream: any UpstreamTransport
    let clock: @Sendable () -> Double
    let draining: DrainingFlag
    /// Concurrent `/upstreamz` askers share one probe.
    private let probes = Coalescer<Result<Int, UpstreamFailure>>()

    init(
        telemetry: Telemetry, gauges: Telemetry.Gauges, upstream: any UpstreamTransport,
        clock: @escaping @Sendable () -> Double, draining: DrainingFlag
    ) {
        self.telemetry = telemetry
        self.gauges = gauges
        self.upstream = upstream
        self.clock = clock
        self.draining = draining
    }

    static let paths: Set<Substring> = ["/healthz", "/readyz", "/upstreamz", "/metrics"]

    /// Every request passes here: Studio paths (/v1, /v2) are let go without cutting the path.
    func isOperationsPath(_ target: String) -> Bool {
        // Every request asks: Studio paths (`/v1`, `/v2`) are told apart by their second byte.
        guard target.withUTF8Bytes({ $0.count > 1 && $0[1] != UInt8(ascii: "v") }) else { return false }
        return Self.paths.contains(HTTPRequest.split(target).path)
    }

    /// Answers `path` (one of `paths`); `done` gets the response and the upstream's status, if asked.
    func answer(_ path: Substring, on loop: EventLoop, _ done: @escaping @Sendable (HTTPResponse, Int?) -> Void) {
        switch path {
        case "/healthz":
            done(Renderer.text(200, "ok\n"), nil)
        case "/readyz":
            // The pod's readiness: listening, configured and not draining. Studio's health is not
            // the application's: an outage must not take the app out of its Service (/upstreamz).
            done(draining.isSet ? Renderer.text(503, "draining\n") : Renderer.text(200, "ready\n"), nil)
        case "/upstreamz":
            upstreamReachability(on: loop, done)
        default:
            var response = Renderer.text(200, telemetry.renderMetrics(gauges))
            response.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            done(response, nil)
        }
    }

    /// 200 when the upstream answered anything (any HTTP status) in the last 30 s; otherwise one
    /// probe of `GET /`, through the same limiter as every call and shared by concurrent askers.
    private func upstreamReachability(on loop: EventLoop, _ done: @escaping @Sendable (HTTPResponse, Int?) -> Void) {
        if Int(clock()) - telemetry.lastUpstreamAnswer.load(ordering: .relaxed) < 30 {
            return done(Renderer.text(200, "reachable\n"), nil)
        }
        let key = "upstream-probe"
        let membership = probes.join(key) { result in
            switch result {
            case .failure(let failure): done(Renderer.text(503, "upstream unreachable: \(failure)\n"), 0)
            case .success(let status): done(Renderer.text(200, "reachable\n"), status)
            }
        }
        guard membership.isLeader else { return }
        let probe = UpstreamRequest(
            method: "GET", pathAndQuery: "/",
            headers: ["User-Agent": "studiogate/\(StudioGateVersion.current) readiness"])
        upstream.send(probe, idempotent: false, admission: .verified, on: loop, timeout: 2) { [probes] result in
            probes.complete(key, with: result.map(\.status.code))
        }
    }
}

/// Set once when shutdown begins: /readyz answers 503 so load balancers stop sending.
final class DrainingFlag: Sendable {
    private let value = Atomic<Bool>(false)

    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
