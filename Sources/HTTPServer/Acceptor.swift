import EventLoop
import Glibc

/// Accepts connections from the shared listening socket on one loop. Every loop registers the
/// same fd with EPOLLEXCLUSIVE, so the kernel wakes one loop per new connection.
final class Acceptor: EventHandler {
    private let listenFD: Int32
    private let context: LoopContext
    /// A spare descriptor, given up when the process runs out so a pending connection can be
    /// accepted and closed instead of spinning on EMFILE (libev/nginx trick).
    private var reserveFD: Int32 = open("/dev/null", O_RDONLY | O_CLOEXEC)

    init(listenFD: Int32, context: LoopContext) {
        self.listenFD = listenFD
        self.context = context
    }

    deinit { if reserveFD >= 0 { Socket.close(reserveFD) } }

    func handleEvents(_ events: UInt32) {
        for _ in 0..<64 {
            do throws(Errno) {
                guard case .processed(let fd) = try Socket.accept(listenFD) else { return }
                let connection = Connection(fd: fd, context: context)
                do throws(Errno) {
                    try connection.start()
                } catch {
                    Socket.close(fd)
                }
            } catch {
                if error.rawValue == EMFILE || error.rawValue == ENFILE {
                    context.log(cause: "fd-limit", "file descriptor limit reached; refusing new connections: \(error)")
                    shedOneConnection()
                } else {
                    context.log(cause: "accept-\(error.rawValue)", "accept failed: \(error)")
                }
                return
            }
        }
    }

    private func shedOneConnection() {
        guard reserveFD >= 0 else { return }
        Socket.close(reserveFD)
        if case .processed(let fd)? = try? Socket.accept(listenFD) { Socket.close(fd) }
        reserveFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    func close() {
        context.loop.deregister(listenFD)
        if reserveFD >= 0 { Socket.close(reserveFD) }
        reserveFD = -1
    }
}
