import CCurl
import EventLoop

/// The upstream Studio over libcurl: one attempt per `attempt` call, run by the `CurlEngine` of
/// the caller's loop. Redirects are never followed and authentication challenges never answered:
/// a 3xx or a 401 comes back as it is, at once.
public final class UpstreamClient: Sendable {
    public struct Options: Sendable {
        /// Budget of one whole call (all attempts), seconds.
        public var timeout: Double = 15
        public var connectTimeoutMilliseconds = 5_000
        /// PEM bundle of CAs to trust instead of the system's (a private CA in front of Studio).
        public var caFile: String? = nil
        /// Largest body taken from the upstream, compressed as received and inflated.
        public var maxBodyBytes = 16 << 20
        /// Connections one loop may open to the upstream (HTTP/1.1; HTTP/2 multiplexes over few).
        public var maxConnectionsPerLoop = 32

        public init() {}
    }

    /// Origin without a trailing slash, e.g. `https://studio.twilio.com`.
    public let baseURL: String
    public let options: Options
    public let stats = UpstreamStats()

    /// curl_global_init is not thread-safe; Swift runs a static initializer exactly once.
    static let initializeCurlOnce: Void = { _ = ccurl_global_init() }()

    public init(baseURL: String, options: Options = Options()) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.options = options
    }

    /// Sends `request` once, from `loop`'s thread; `completion` runs there. Proxies come from the
    /// environment as curl reads them (`HTTPS_PROXY`/`https_proxy`, `NO_PROXY`/`no_proxy`).
    func attempt(
        _ request: UpstreamRequest, on loop: EventLoop, timeoutMilliseconds: Int,
        completion: @escaping (Result<UpstreamResponse, UpstreamFailure>) -> Void
    ) -> (() -> Void)? {
        let engine = engine(on: loop)
        guard
            let transfer = engine.start(
                request, url: baseURL + request.pathAndQuery, options: options,
                timeoutMilliseconds: timeoutMilliseconds, completion: completion),
            !transfer.isFinished
        else { return nil }
        return { engine.cancel(transfer) }
    }

    func engine(on loop: EventLoop) -> CurlEngine {
        loop.local(for: self) {
            CurlEngine(loop: loop, maxConnectionsPerHost: options.maxConnectionsPerLoop, stats: stats)
        }
    }
}
