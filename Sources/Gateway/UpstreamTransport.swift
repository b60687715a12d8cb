import EventLoop
import Upstream

/// What the gateway needs from the upstream: `UpstreamService` (libcurl on the loops) in the
/// product, a scripted fake in the in-process tests. `completion` runs on `loop`, exactly once.
protocol UpstreamTransport: Sendable {
    @discardableResult
    func send(
        _ request: UpstreamRequest, idempotent: Bool, admission: Admission, on loop: EventLoop, timeout: Double?,
        completion: @escaping (Result<UpstreamResponse, UpstreamFailure>) -> Void
    ) -> UpstreamCall
    /// Calls in flight, for /metrics.
    var inFlight: Int { get }
    /// Connections opened and reused, TLS handshakes, HTTP versions, for /metrics.
    var stats: UpstreamStats { get }
}

extension UpstreamService: UpstreamTransport {
    var stats: UpstreamStats { client.stats }
}
