import EventLoop
import Glibc
import TLS

/// What a `RedisSocket` tells its owner. Calls come on the loop thread, from the socket's events
/// or from a deferred close, never from inside `write`.
protocol RedisSocketDelegate: AnyObject {
    /// The stream is up; over TLS, the socket then runs the TLS handshake by itself.
    func socketConnected(_ socket: RedisSocket)
    /// rediss:// only: the TLS handshake completed, commands are encrypted from now on.
    func socketSecured(_ socket: RedisSocket)
    func socket(_ socket: RedisSocket, received value: RESPValue)
    /// Once per socket, whatever closed it.
    func socket(_ socket: RedisSocket, closedWith error: RedisError)
}

/// The read buffer the sockets of one loop share (only one of them reads at a time).
final class RedisReadBuffer {
    var bytes = [UInt8](repeating: 0, count: 64 * 1024)
}

/// One non-blocking stream socket to Redis on one loop: connect, write encoded commands, parse
/// replies. Output is bounded: a command that would take the unsent bytes past `maxOutputBytes` is
/// refused, so a Redis that stops reading costs a bounded amount of memory and fails fast.
///
/// With a `RedisTLSChannel` (rediss://) the bytes on the wire are TLS records: the socket runs the
/// handshake once connected and fails it closed (`.notConnected` with OpenSSL's reason). Plaintext
/// sockets pay one nil check per read and per write for it.
final class RedisSocket: EventHandler {
    let loop: EventLoop
    private let fd: Int32
    private var parser: RESPParser
    /// nil: plaintext (redis://, unix://).
    private let tls: RedisTLSChannel?
    private var output: [UInt8] = []
    private var outputIndex = 0
    private let maxOutputBytes: Int
    private let readBuffer: RedisReadBuffer
    private var interest: UInt32 = 0
    private(set) var isConnected = false
    private(set) var isClosed = false
    private var closeScheduled = false
    weak var delegate: RedisSocketDelegate?

    private init(
        fd: Int32, loop: EventLoop, limits: RESPLimits, maxOutputBytes: Int, readBuffer: RedisReadBuffer,
        tls: RedisTLSChannel?
    ) {
        self.fd = fd
        self.loop = loop
        self.tls = tls
        self.parser = RESPParser(limits: limits)
        self.maxOutputBytes = maxOutputBytes
        self.readBuffer = readBuffer
    }

    /// Starts connecting to `address`. The socket reports `socketConnected` from the loop once the
    /// connection is up, even when connect() succeeded at once (a unix socket), so the owner is never
    /// called back before it has set itself as the delegate.
    static func open(
        to address: SocketAddress, loop: EventLoop, delegate: RedisSocketDelegate, limits: RESPLimits,
        maxOutputBytes: Int, readBuffer: RedisReadBuffer, tls: RedisTLSChannel? = nil
    ) -> Result<RedisSocket, RedisError> {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(address.family, type, 0)
        guard fd >= 0 else { return .failure(.notConnected("socket(): \(Errno.current)")) }
        if address.family != AF_UNIX {
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let result = address.withSockaddr { pointer, length in Glibc.connect(fd, pointer, length) }
        // EINTR: the connection goes on in the background, as with EINPROGRESS.
        if result == -1, errno != EINPROGRESS, errno != EINTR {
            let error = Errno.current
            Glibc.close(fd)
            return .failure(.notConnected("connect(): \(error)"))
        }
        let socket = RedisSocket(
            fd: fd, loop: loop, limits: limits, maxOutputBytes: maxOutputBytes,
            readBuffer: readBuffer, tls: tls)
        socket.delegate = delegate
        socket.interest = EpollEvents.writable | EpollEvents.hangup
        do {
            try loop.register(fd, events: socket.interest, handler: socket)
        } catch {
            Glibc.close(fd)
            return .failure(.notConnected("epoll: \(error)"))
        }
        return .success(socket)
    }

    var unsentBytes: Int { output.count - outputIndex }

    /// Open and not about to close after a failed write.
    var isWritable: Bool { !isClosed && !closeScheduled }

    /// Queues `command` (sent at once when connected and nothing waits before it). False when it
    /// would not fit the output bound; nothing was queued then.
    func write(_ command: RedisCommand) -> Bool {
        guard !isClosed, !closeScheduled else { return false }
        if let tls { return write(command, through: tls) }
        guard unsentBytes + RESPEncoder.encodedLength(of: command) <= maxOutputBytes else { return false }
        let wasIdle = unsentBytes == 0
        RESPEncoder.append(command, to: &output)
        if isConnected && wasIdle { flush() }
        return true
    }

    /// rediss://: the bound counts the plaintext held until the session is established too.
    private func write(_ command: RedisCommand, through tls: RedisTLSChannel) -> Bool {
        let queued = unsentBytes + tls.heldBytes
        guard queued + RESPEncoder.encodedLength(of: command) <= maxOutputBytes else { return false }
        let wasIdle = unsentBytes == 0
        do throws(TLSError) {
            try tls.write(command, output: &output)
        } catch {
            // Queued as far as the caller knows: it hears of the failure as a close.
            scheduleClose(.connectionClosed("TLS: \(error)"))
            return true
        }
        if isConnected && wasIdle { flush() }
        return true
    }

    /// Closes now and tells the delegate (which may be the caller: it hears of it like any close).
    func close(_ error: RedisError) {
        guard !isClosed else { return }
        isClosed = true
        isConnected = false
        loop.deregister(fd)
        Socket.close(fd)
        output = []
        outputIndex = 0
        delegate?.socket(self, closedWith: error)
    }

    // MARK: EventHandler

    func handleEvents(_ events: UInt32) {
        guard !isClosed else { return }
        if !isConnected {
            finishConnecting(events)
            return
        }
        if events & EpollEvents.writable != 0 {
            flush()
            if isClosed { return }
        }
        if events & (EpollEvents.readable | EpollEvents.hangup) != 0 { readAvailable() }
    }

    func loopDidStop() { close(.stopped) }

    // MARK: connecting

    private func finishConnecting(_ events: UInt32) {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        if error != 0 {
            close(.notConnected("connect: \(Errno(error))"))
            return
        }
        // A stale event (an fd number reused within one epoll batch) must not count as connected.
        var peer = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let connected = withUnsafeMutableBytes(of: &peer) { raw in
            getpeername(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &peerLength) == 0
        }
        guard connected else {
            if events & EpollEvents.hangup != 0 { close(.notConnected("connect: the peer hung up")) }
            return
        }
        isConnected = true
        delegate?.socketConnected(self)
        guard !isClosed else { return }
        if let tls { advanceTLS(tls.start(output: &output)) }
        guard !isClosed else { return }
        flush()
    }

    /// After a handshake step: reports the session when established, closes on a failure.
    private func advanceTLS(_ step: TLSSession.HandshakeStep) {
        switch step {
        case .wantsMoreInput:
            break
        case .complete:
            delegate?.socketSecured(self)
        case .failed(let error):
            close(.notConnected(error.reason))
        }
    }

    // MARK: reading

    private func readAvailable() {
        let result = readBuffer.bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(Errno) in try Socket.read(fd, into: buffer) }
        }
        switch result {
        case .failure(let error):
            close(.connectionClosed("read: \(error)"))
        case .success(.wouldBlock):
            return
        case .success(.processed(0)):
            close(.connectionClosed("Redis closed the connection"))
        case .success(.processed(let count)):
            if let tls { return receiveTLS(count, through: tls) }
            readBuffer.bytes.withUnsafeBytes { parser.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            deliverReplies()
        }
    }

    /// `count` bytes of records in the read buffer: handshake first, then replies.
    private func receiveTLS(_ count: Int, through tls: RedisTLSChannel) {
        var records = 0..<count
        if !tls.isEstablished {
            let step = readBuffer.bytes.withUnsafeBytes { bytes in
                tls.handshake(receiving: UnsafeRawBufferPointer(rebasing: bytes[0..<count]), output: &output)
            }
            advanceTLS(step)
            guard !isClosed else { return }
            if unsentBytes > 0 { flush() }
            guard step == .complete, !isClosed else { return }
            records = 0..<0  // what came with the handshake's last bytes is in the engine already
        }
        let outcome = readBuffer.bytes.withUnsafeBytes { bytes in
            tls.receive(UnsafeRawBufferPointer(rebasing: bytes[records]), into: &parser, output: &output)
        }
        if unsentBytes > 0 { flush() }
        deliverReplies()
        guard !isClosed else { return }
        switch outcome {
        case .open: break
        case .closeNotify: close(.connectionClosed("Redis ended the TLS session"))
        case .failed(let error): close(.connectionClosed(error.reason))
        }
    }

    private func deliverReplies() {
        while !isClosed {
            let value: RESPValue?
            do {
                value = try parser.next()
            } catch {
                close(.protocolError(error))
                return
            }
            guard let value else { return }
            delegate?.socket(self, received: value)
        }
    }

    // MARK: writing

    private func flush() {
        while unsentBytes > 0 {
            let result = output.withUnsafeBytes { bytes in
                Result { () throws(Errno) in
                    try Socket.send(fd, UnsafeRawBufferPointer(rebasing: bytes[outputIndex...]), Self.nothing)
                }
            }
            switch result {
            case .success(.processed(let count)):
                outputIndex += count
            case .success(.wouldBlock):
                compactOutput()
                updateInterest()
                return
            case .failure(let error):
                // Not closed here: `write` calls this, and its caller must not hear of a close
                // while it is still queueing. The loop closes it before its next turn.
                scheduleClose(.connectionClosed("write: \(error)"))
                return
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
        outputIndex = 0
        updateInterest()
    }

    /// `Socket.send` writes a head and a body; commands are all head.
    private static var nothing: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    private func compactOutput() {
        if outputIndex >= 64 * 1024, outputIndex * 2 >= output.count {
            output.removeSubrange(0..<outputIndex)
            outputIndex = 0
        }
    }

    private func scheduleClose(_ error: RedisError) {
        guard !closeScheduled else { return }
        closeScheduled = true
        loop.schedule(after: 0) { [weak self] in self?.close(error) }
    }

    private func updateInterest() {
        guard !isClosed else { return }
        var wanted = EpollEvents.hangup | EpollEvents.readable
        if unsentBytes > 0 { wanted |= EpollEvents.writable }
        if wanted != interest {
            interest = wanted
            loop.modify(fd, events: wanted)
        }
    }
}
