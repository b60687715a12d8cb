import EventLoop
import HTTP

public struct HTTPServerConfiguration: Sendable {
    public var address: SocketAddress
    public var threads: Int
    public var limits = HTTPLimits()
    /// Time allowed to receive a whole request head, from its first byte.
    public var headerTimeout: Double = 10
    /// Idle keep-alive connections, slow bodies and stalled writes are closed after this.
    public var idleTimeout: Double = 60
    /// Unsent answer bytes one connection may hold before it stops taking (and reading) pipelined
    /// requests; it resumes once the client has read enough to bring them back under this.
    /// One answer larger than this is still sent whole: the cap only stops the next request.
    public var maxUnsentOutput = 256 * 1024
    /// Counts open connections, if given.
    public var connections: ConnectionGauge? = nil
    /// Receives operational messages (already rate-limited per cause).
    public var log: @Sendable (String) -> Void = { _ in }

    public init(address: SocketAddress, threads: Int) {
        self.address = address
        self.threads = threads
    }
}
