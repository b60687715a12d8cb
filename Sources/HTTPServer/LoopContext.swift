import EventLoop
import Glibc
import HTTP

/// The server's state on one event loop: its connections, the cached Date header,
/// a shared read buffer. Confined to that loop's thread.
final class LoopContext {
    let loop: EventLoop
    let handler: any HTTPHandler
    let configuration: HTTPServerConfiguration
    let tuning: ConnectionTuning
    var connections: [Int32: Connection] = [:]
    private(set) var date = HTTPDate.format()
    /// One read buffer per loop: reads land here, then only the bytes read are copied. Read twice
    /// per request by the loop's own thread, never while held (the parser copies what it keeps):
    /// no runtime exclusivity check.
    @exclusivity(unchecked) var readBuffer: [UInt8]
    private var lastLogged: [String: (time: UInt64, suppressed: Int)] = [:]

    init(loop: EventLoop, handler: any HTTPHandler, configuration: HTTPServerConfiguration) {
        self.loop = loop
        self.handler = handler
        self.configuration = configuration
        self.tuning = ConnectionTuning(configuration)
        readBuffer = [UInt8](repeating: 0, count: max(4096, configuration.readBufferBytes))
    }

    func tick() {
        date = HTTPDate.format()
        let now = MonotonicClock.now()
        for connection in connections.values { connection.checkDeadline(now: now) }
    }

    /// Logs a cause at most once a minute, with how many repeats were not logged.
    func log(cause: String, _ message: @autoclosure () -> String) {
        let now = MonotonicClock.now()
        if let last = lastLogged[cause], now - last.time < 60_000_000_000 {
            lastLogged[cause]?.suppressed += 1
            return
        }
        let suppressed = lastLogged[cause]?.suppressed ?? 0
        lastLogged[cause] = (now, 0)
        configuration.log(message() + (suppressed > 0 ? " (\(suppressed) more since last report)" : ""))
    }
}
