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
    /// Counts open connections, if given.
    public var connections: ConnectionGauge? = nil
    /// Receives operational messages (already rate-limited per cause).
    public var log: @Sendable (String) -> Void = { _ in }

    public init(address: SocketAddress, threads: Int) {
        self.address = address
        self.threads = threads
    }
}
