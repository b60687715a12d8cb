import CLinux
import Glibc

/// Thin wrappers over the socket syscalls the front end uses, one per call.
/// Every descriptor is non-blocking and close-on-exec.
public enum Socket {
    /// A listening TCP socket bound to `address`; returns the fd and the bound address (port 0 resolved).
    public static func listen(on address: SocketAddress, backlog: Int32 = 1024) throws(Errno) -> (
        fd: Int32, bound: SocketAddress
    ) {
        let fd = try syscall {
            socket(
                address.family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do throws(Errno) {
            var one: Int32 = 1
            try syscall { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
            let bindResult = address.withSockaddr { ptr, len in bind(fd, ptr, len) }
            if bindResult == -1 { throw Errno.current }
            try syscall { Glibc.listen(fd, backlog) }
            return (fd, try localAddress(of: fd))
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    public static func localAddress(of fd: Int32) throws(Errno) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutableBytes(of: &storage) { raw in
            getsockname(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        if result == -1 { throw Errno.current }
        return SocketAddress(storage: storage, length: length)
    }

    /// Accepts one pending connection, already non-blocking.
    public static func accept(_ listenFD: Int32) throws(Errno) -> IOResult<Int32> {
        let fd = retryingInterrupts {
            clinux_accept4(listenFD, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
        }
        if fd >= 0 {
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return .processed(fd)
        }
        let error = Errno.current
        // A connection reset before we accepted it is not the listener's problem.
        if error.isWouldBlock || error.rawValue == ECONNABORTED { return .wouldBlock }
        throw error
    }

    /// Reads into `buffer`; `.processed(0)` is end of stream.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> IOResult<Int> {
        let n = retryingInterrupts { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        if n >= 0 { return .processed(n) }
        let error = Errno.current
        if error.isWouldBlock { return .wouldBlock }
        throw error
    }

    /// Sends `head` then `body` in one call (sendmsg with two iovecs), never raising SIGPIPE on a
    /// peer that went away. A response body goes from where it is stored to the kernel without
    /// being copied behind its head.
    public static func send(_ fd: Int32, _ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer) throws(Errno)
        -> IOResult<Int>
    {
        var vectors = (
            iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress), iov_len: head.count),
            iovec(iov_base: UnsafeMutableRawPointer(mutating: body.baseAddress), iov_len: body.count)
        )
        let n = withUnsafeMutableBytes(of: &vectors) { vectors in
            var message = msghdr()
            message.msg_iov = vectors.baseAddress!.assumingMemoryBound(to: iovec.self)
            message.msg_iovlen = 2
            return retryingInterrupts { sendmsg(fd, &message, Int32(MSG_NOSIGNAL)) }
        }
        if n >= 0 { return .processed(n) }
        let error = Errno.current
        if error.isWouldBlock { return .wouldBlock }
        throw error
    }

    /// Makes the next close send RST instead of FIN (used to simulate connection resets).
    public static func setLingerZero(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }

    public static func close(_ fd: Int32) {
        // Linux releases the fd even when close reports EINTR, so never retry it.
        _ = Glibc.close(fd)
    }
}
