import Glibc

/// Loopback TCP ports for tests that need one before anything listens on it.
enum LoopbackPort {
    /// A TCP socket bound to 127.0.0.1 on a port the kernel picks, listening if asked; the caller
    /// closes `fd`.
    static func bind(listening: Bool = false) -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                _ = Glibc.bind(fd, pointer, length)
                if listening { _ = listen(fd, 8) }
                return getsockname(fd, pointer, &length)
            }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// A port nothing listens on (bound, then released).
    static func free() -> UInt16 {
        let (fd, port) = bind()
        close(fd)
        return port
    }
}
