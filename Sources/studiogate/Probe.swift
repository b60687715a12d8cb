import Glibc
import HTTP

/// `studiogate probe URL [--timeout SECONDS]`: one GET over a plain socket; exit 0 on a 2xx
/// answer, 1 on anything else (refused, timed out, non-2xx, unreadable). For exec probes
/// (Kubernetes, compose, systemd): the image needs no shell and no curl, and the gateway keeps
/// listening on loopback only.
///
/// Deliberately no Foundation and no event loop: a blocking socket with a deadline, the request
/// line, and the status code of the answer's first line.
enum Probe {
    static let usage =
        "usage: studiogate probe http://HOST:PORT/PATH [--timeout SECONDS] [--wait SECONDS]\n"
        + "  one GET; exit 0 on 2xx, 1 otherwise, 2 on bad usage. --timeout bounds each attempt (default 2);\n"
        + "  --wait retries every 0.2 s until a 2xx or SECONDS have passed (default 0: one attempt)"

    struct Target: Equatable {
        var host: String
        var port: String
        var path: String
    }

    /// `http://127.0.0.1:8080/healthz`, `http://[::1]:8080/readyz`, `http://localhost/`; http only.
    static func parse(_ url: String) -> Target? {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        var host = Substring(authority)
        var port: Substring = "80"
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { port = after.dropFirst() } else if !after.isEmpty { return nil }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty, let number = UInt16(port), number > 0,
            !path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" })
        else { return nil }
        return Target(host: String(host), port: String(port), path: path.isEmpty ? "/" : String(path))
    }

    /// Runs the probe for the arguments after `probe`; returns the exit code.
    static func run(_ arguments: [String]) -> Int32 {
        var url: String? = nil
        var timeout = 2.0
        var wait = 0.0
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if let option = ["--timeout", "--wait"].first(where: { argument == $0 || argument.hasPrefix($0 + "=") }) {
                let value: String
                if argument.hasPrefix(option + "=") {
                    value = String(argument.dropFirst(option.count + 1))
                } else if index < arguments.count {
                    value = arguments[index]
                    index += 1
                } else {
                    return usageError("\(option) needs a value")
                }
                guard let seconds = Double(value), seconds.isFinite, option == "--wait" ? seconds >= 0 : seconds > 0,
                    seconds <= 3600
                else {
                    return usageError("\(option): expected a number of seconds, got '\(value)'")
                }
                if option == "--wait" { wait = seconds } else { timeout = seconds }
            } else if argument == "--help" || argument == "-h" {
                print(usage)
                return 0
            } else if url == nil, !argument.hasPrefix("-") {
                url = argument
            } else {
                return usageError("unexpected argument '\(argument)'")
            }
        }
        guard let url else { return usageError("give the URL to probe") }
        guard let target = parse(url) else { return usageError("expected http://HOST:PORT/PATH, got '\(url)'") }
        let giveUp = now() + wait
        var result = get(target, timeout: timeout)
        while wait > 0, now() < giveUp {
            if case .success(let status) = result, HTTPStatus(status).isSuccess { break }
            usleep(200_000)
            result = get(target, timeout: min(timeout, max(0.1, giveUp - now())))
        }
        switch result {
        case .success(let status) where HTTPStatus(status).isSuccess:
            print("probe: \(url): \(status)")
            return 0
        case .success(let status):
            report("\(url): HTTP \(status)")
            return 1
        case .failure(let why):
            report("\(url): \(why.text)")
            return 1
        }
    }

    struct Failure: Error { let text: String }

    /// Sends `GET path` and returns the answer's status code.
    static func get(_ target: Target, timeout: Double) -> Result<Int, Failure> {
        let deadline = now() + timeout
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let resolved = getaddrinfo(target.host, target.port, &hints, &list)
        guard resolved == 0, let first = list else {
            return .failure(Failure(text: "cannot resolve \(target.host): \(String(cString: gai_strerror(resolved)))"))
        }
        defer { freeaddrinfo(list) }

        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(
                info.pointee.ai_family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else {
                lastError = errnoText()
                continue
            }
            defer { close(fd) }
            if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
                guard errno == EINPROGRESS else {
                    lastError = "connect: " + errnoText()
                    continue
                }
                guard wait(fd, for: Int16(POLLOUT), until: deadline) else {
                    lastError = "connect: timed out"
                    continue
                }
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                guard soError == 0 else {
                    lastError = "connect: " + String(cString: strerror(soError))
                    continue
                }
            }
            return exchange(fd, target: target, deadline: deadline)
        }
        return .failure(Failure(text: lastError))
    }

    private static func exchange(_ fd: Int32, target: Target, deadline: Double) -> Result<Int, Failure> {
        let host = target.host.contains(":") ? "[\(target.host)]:\(target.port)" : "\(target.host):\(target.port)"
        let request = Array(
            "GET \(target.path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: studiogate-probe\r\nConnection: close\r\n\r\n"
                .utf8)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
                continue
            }
            guard n < 0, errno == EAGAIN || errno == EINTR else {
                return .failure(Failure(text: "send: " + errnoText()))
            }
            guard wait(fd, for: Int16(POLLOUT), until: deadline) else {
                return .failure(Failure(text: "send: timed out"))
            }
        }
        // The status line is all that is needed: "HTTP/1.1 200 OK\r\n".
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while !head.contains(0x0A), head.count < 4096 {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                head += chunk[0..<n]
                continue
            }
            if n == 0 { return .failure(Failure(text: "connection closed before an answer")) }
            guard errno == EAGAIN || errno == EINTR else { return .failure(Failure(text: "recv: " + errnoText())) }
            guard wait(fd, for: Int16(POLLIN), until: deadline) else {
                return .failure(Failure(text: "no answer in time"))
            }
        }
        let line = String(decoding: head.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let status = Int(parts[1]) else {
            return .failure(Failure(text: "not an HTTP answer"))
        }
        return .success(status)
    }

    /// poll(2) until `events` or the deadline; false on timeout or error.
    private static func wait(_ fd: Int32, for events: Int16, until deadline: Double) -> Bool {
        while true {
            let left = deadline - now()
            guard left > 0 else { return false }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(max(1, (left * 1000).rounded(.up))))
            if ready > 0 { return true }
            if ready < 0 && errno == EINTR { continue }
            return false  // timed out, or poll failed
        }
    }

    private static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }

    private static func report(_ message: String) {
        let line = Array("studiogate probe: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    private static func usageError(_ message: String) -> Int32 {
        report(message)
        let line = Array((usage + "\n").utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        return 2
    }
}
