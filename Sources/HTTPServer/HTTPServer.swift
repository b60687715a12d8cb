import EventLoop
import Glibc
import HTTP
import Synchronization

/// An HTTP/1.1 server: one listening socket shared by `threads` epoll loops.
public final class HTTPServer: Sendable {
    public let localAddress: SocketAddress
    private let listenFD: Int32
    private let group: EventLoopGroup
    private let stopped = Atomic<Bool>(false)
    private let acceptingStopped = Atomic<Bool>(false)
    private let loopsStillAccepting: Atomic<Int>

    public convenience init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) throws(Errno) {
        try self.init(configuration: configuration) { _ in handler }
    }

    /// `makeHandler` receives the bound address (port 0 resolved) before the first request.
    public init(configuration: HTTPServerConfiguration, makeHandler: (SocketAddress) -> any HTTPHandler) throws(Errno) {
        let (fd, bound) = try Socket.listen(on: configuration.address)
        listenFD = fd
        localAddress = bound
        let handler = makeHandler(bound)
        loopsStillAccepting = Atomic(max(1, configuration.threads))
        do throws(Errno) {
            group = try EventLoopGroup(threads: configuration.threads)
        } catch {
            Socket.close(fd)
            throw error
        }
        for loop in group.loops {
            loop.execute {
                let context = LoopContext(loop: loop, handler: handler, configuration: configuration)
                let acceptor = Acceptor(listenFD: fd, context: context)
                do throws(Errno) {
                    try loop.register(fd, events: EpollEvents.readable | EpollEvents.exclusive, handler: acceptor)
                } catch {
                    configuration.log("cannot watch the listening socket: \(error)")
                }
                loop.addTicker { context.tick() }
            }
        }
    }

    /// The loops serving connections, e.g. for clients that keep per-loop connections of their own.
    public var loops: [EventLoop] { group.loops }

    /// Stops taking new connections (graceful shutdown); open connections keep being served.
    /// The last loop to let go of the listening socket closes it.
    public func stopAccepting() {
        guard !acceptingStopped.exchange(true, ordering: .relaxed) else { return }
        let fd = listenFD
        for loop in group.loops {
            loop.execute { [self] in
                loop.deregister(fd)
                if loopsStillAccepting.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { Socket.close(fd) }
            }
        }
    }

    /// Stops the loops and the listening socket. Open connections are dropped.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        stopAccepting()
        group.shutdown()
    }

    deinit { stop() }
}
