import Synchronization

/// How the upstream calls went, for /metrics: connections opened and reused, TLS handshakes,
/// and the HTTP version each call used. Relaxed atomics: counted once per finished call.
public final class UpstreamStats: Sendable {
    public let connectionsOpened = Atomic<Int>(0)
    public let connectionsReused = Atomic<Int>(0)
    public let tlsHandshakes = Atomic<Int>(0)
    public let http1Calls = Atomic<Int>(0)
    public let http2Calls = Atomic<Int>(0)
    /// Writes refused because the connection failed after they may have been sent (never re-sent).
    public let writesNotResent = Atomic<Int>(0)
    /// Attempts after the first (a 429 or a failure to connect, backed off and sent again).
    public let retries = Atomic<Int>(0)
    /// Header values from the upstream dropped as unsafe to pass on (control or non-ASCII bytes,
    /// a request id that is not an `RQ` SID).
    public let upstreamFieldsDropped = Atomic<Int>(0)

    public init() {}

    func record(newConnections: Int, tlsHandshake: Bool, httpVersion: Int) {
        if newConnections > 0 {
            connectionsOpened.wrappingAdd(newConnections, ordering: .relaxed)
        } else {
            connectionsReused.wrappingAdd(1, ordering: .relaxed)
        }
        if tlsHandshake { tlsHandshakes.wrappingAdd(1, ordering: .relaxed) }
        switch httpVersion {
        case 2: http2Calls.wrappingAdd(1, ordering: .relaxed)
        case 1: http1Calls.wrappingAdd(1, ordering: .relaxed)
        default: break
        }
    }
}
