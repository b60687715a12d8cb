import Foundation
import Glibc
import Locking
import Redis

/// A loopback TCP server that pretends to be Redis and misbehaves on purpose. Blocking sockets on
/// threads of its own, each waiting in poll() with a short timeout so `stop` ends them promptly.
final class RedisFakeServer: Sendable {
    enum Behaviour: Sendable {
        /// Reads commands and answers each complete one with these bytes.
        case answerEach([UInt8])
        /// Answers the first bytes received with these bytes, then repeats `thenStream` for ever (as
        /// fast as the client takes them, or every `interval` seconds).
        case answerOnce([UInt8], thenStream: [UInt8] = [], interval: Double = 0)
        /// Reads everything, answers nothing.
        case silent
        /// Accepts and never reads (the client's writes pile up in the kernel, then in its buffer).
        case neverRead
    }

    let port: UInt16
    private let listenFD: Int32
    private let behaviour: Locked<Behaviour>
    private let running = Locked(true)
    private let counters = Locked((accepted: 0, bytesReceived: 0, commandsReceived: 0, peerClosed: 0))
    private let threads = Locked(0)

    /// `receiveBuffer`: SO_RCVBUF for accepted connections (small, so `neverRead` fills up early).
    init(_ behaviour: Behaviour, receiveBuffer: Int32? = nil) {
        self.behaviour = Locked(behaviour)
        let (fd, port) = LoopbackPort.bind()
        listenFD = fd
        self.port = port
        // Before listen(), so accepted connections inherit it.
        if var size = receiveBuffer {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        _ = listen(fd, 16)
        spawn { [self] in acceptLoop() }
    }

    var url: RedisURL { RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port)) }
    var accepted: Int { counters.withLock { $0.accepted } }
    var bytesReceived: Int { counters.withLock { $0.bytesReceived } }
    var commandsReceived: Int { counters.withLock { $0.commandsReceived } }
    /// Connections the client closed while the fake still had them.
    var peerClosed: Int { counters.withLock { $0.peerClosed } }

    /// The new behaviour applies to open connections too, from their next turn.
    func change(to behaviour: Behaviour) { self.behaviour.withLock { $0 = behaviour } }

    func stop() {
        let wasRunning = running.withLock { running in
            defer { running = false }
            return running
        }
        guard wasRunning else { return }  // closing twice could close someone else's fd
        for _ in 0..<100 where threads.withLock({ $0 }) > 0 { usleep(10_000) }
        close(listenFD)
    }

    deinit { stop() }

    private var isRunning: Bool { running.withLock { $0 } }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        threads.withLock { $0 += 1 }
        let thread = Thread { [self] in
            body()
            threads.withLock { $0 -= 1 }
        }
        thread.start()
    }

    private static func wait(_ fd: Int32, for events: Int16, milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        return poll(&entry, 1, milliseconds) > 0
    }

    private func acceptLoop() {
        while isRunning {
            guard Self.wait(listenFD, for: Int16(POLLIN), milliseconds: 20) else { continue }
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { continue }
            counters.withLock { $0.accepted += 1 }
            spawn { [self] in serve(fd) }
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var parser = RESPParser()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var answered = false
        var lastStream = 0.0
        while isRunning {
            // Read each turn, so `change(to:)` reaches connections already open.
            let behaviour = self.behaviour.withLock { $0 }
            if case .neverRead = behaviour {
                usleep(10_000)
                continue
            }
            if case .answerOnce(_, let stream, let interval) = behaviour, answered, !stream.isEmpty {
                let now = Date().timeIntervalSince1970
                if now - lastStream >= interval {
                    lastStream = now
                    if !send(fd, stream) { return }
                }
                if interval > 0 { usleep(1_000) }
                if Self.wait(fd, for: Int16(POLLIN), milliseconds: 0), !drain(fd, &buffer, &parser) { return }
                continue
            }
            guard Self.wait(fd, for: Int16(POLLIN), milliseconds: 20) else { continue }
            guard drain(fd, &buffer, &parser) else { return }
            var commands = 0
            while (try? parser.next()) != nil { commands += 1 }
            counters.withLock { $0.commandsReceived += commands }
            switch behaviour {
            case .answerEach(let reply):
                for _ in 0..<commands where !send(fd, reply) { return }
            case .answerOnce(let reply, _, _) where !answered:
                answered = true
                if !send(fd, reply) { return }
            default:
                break
            }
        }
    }

    /// Reads what is there; false when the client closed or reset the connection.
    private func drain(_ fd: Int32, _ buffer: inout [UInt8], _ parser: inout RESPParser) -> Bool {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else {
            counters.withLock { $0.peerClosed += 1 }
            return false
        }
        counters.withLock { $0.bytesReceived += count }
        buffer.withUnsafeBytes { parser.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        return true
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            guard Self.wait(fd, for: Int16(POLLOUT), milliseconds: 20) else {
                if !isRunning { return false }
                continue
            }
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else {
                counters.withLock { $0.peerClosed += 1 }
                return false
            }
            offset += sent
        }
        return true
    }
}
