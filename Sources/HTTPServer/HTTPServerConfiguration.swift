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
    /// After a connection's last response is sent and its sending side shut down, the time the
    /// client has to close its side before the connection is closed anyway (lingering close: the
    /// client reads the response instead of a reset).
    public var lingerTimeout: Double = 2
    /// Unsent answer bytes one connection may hold before it stops taking (and reading) pipelined
    /// requests; it resumes once the client has read enough to bring them back under this.
    /// One answer larger than this is still sent whole: the cap only stops the next request.
    public var maxUnsentOutput = 256 * 1024
    /// Unparsed input one connection keeps while a request is being answered; past it, reading
    /// pauses until the answer is out (further pipelined requests wait in the kernel).
    public var maxBufferedWhileBusy = 128 * 1024
    /// Sent bytes at the front of a connection's output buffer are dropped once there are this many
    /// and they are at least half of it: a client that keeps the queue from emptying must not
    /// make it keep what was already sent.
    public var outputCompactionThreshold = 64 * 1024
    /// Once everything is sent, an output buffer up to this capacity is kept for the next answer;
    /// a larger one (left by a large answer) is freed.
    public var outputKeptCapacity = 256 * 1024
    /// Parsed bytes at the front of a connection's input buffer are dropped once there are more
    /// than this many (pipelined requests are parsed in place).
    public var inputCompactionThreshold = 16 * 1024
    /// Once everything read is parsed, an input buffer up to this capacity is kept for the next
    /// request; a larger one (left by a large body) is freed.
    public var inputKeptCapacity = 64 * 1024
    /// Bytes one read may take from a socket (one buffer per loop, shared by its connections).
    public var readBufferBytes = 64 * 1024
    /// Counts open connections, if given.
    public var connections: ConnectionGauge? = nil
    /// Receives operational messages (already rate-limited per cause).
    public var log: @Sendable (String) -> Void = { _ in }

    public init(address: SocketAddress, threads: Int) {
        self.address = address
        self.threads = threads
    }
}
