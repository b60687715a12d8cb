import Dispatch
import EventLoop
import Glibc
import Locking

/// The socket addresses of the configured Redis. IP literals and unix paths are known at once.
/// A host name (a Kubernetes service, `redis` in docker compose) is looked up with getaddrinfo on
/// a background thread, never on an event loop: a slow DNS server must not stall requests. It is
/// looked up again after connect failures (a service that moved), at most once a second.
final class RedisAddressResolver: Sendable {
    private struct State {
        var addresses: [SocketAddress] = []
        var resolving = false
        var lastLookup: UInt64 = 0
        var lastError: RedisError? = nil
    }

    private let host: String?
    private let port: UInt16
    private let state = Locked(State())
    private static let lookupInterval: UInt64 = 1_000_000_000

    init(endpoint: RedisURL.Endpoint) {
        switch endpoint {
        case .unix(let path):
            host = nil
            port = 0
            state.withLock { $0.addresses = [Self.unixAddress(path)] }
        case .tcp(let host, let port):
            self.port = port
            let literal = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            if let address = try? SocketAddress(parsing: literal) {
                self.host = nil
                state.withLock { $0.addresses = [address] }
            } else {
                self.host = host
            }
        }
    }

    /// The address to try on a connection's `attempt`th consecutive failure (each address of a
    /// name in turn), or why there is none yet; a lookup is started if one is due.
    func address(attempt: Int) -> Result<SocketAddress, RedisError> {
        let (addresses, lastError) = state.withLock { ($0.addresses, $0.lastError) }
        if addresses.isEmpty {
            lookUpIfDue()
            return .failure(lastError ?? .notConnected("looking up the Redis host name"))
        }
        return .success(addresses[attempt % addresses.count])
    }

    /// A connect to one of the addresses failed: look the name up again (if due).
    func connectFailed() { lookUpIfDue() }

    private func lookUpIfDue() {
        guard let host else { return }
        let now = MonotonicClock.now()
        let start = state.withLock { state -> Bool in
            let due = state.lastLookup == 0 || now &- state.lastLookup >= Self.lookupInterval
            guard !state.resolving, due else { return false }
            state.resolving = true
            state.lastLookup = now
            return true
        }
        guard start else { return }
        let port = self.port
        DispatchQueue.global().async { [self] in
            let result = Self.lookUp(host, port: port)
            state.withLock { state in
                state.resolving = false
                switch result {
                case .success(let addresses): state.addresses = addresses
                // Keep the addresses we had: a DNS hiccup should not disconnect a working Redis.
                case .failure(let error): state.lastError = error
                }
            }
        }
    }

    private static func lookUp(_ host: String, port: UInt16) -> Result<[SocketAddress], RedisError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            return .failure(.notConnected("cannot resolve the Redis host: \(String(cString: gai_strerror(status)))"))
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var entry = list
        while let current = entry {
            let length = Int(current.pointee.ai_addrlen)
            if let raw = current.pointee.ai_addr, length <= MemoryLayout<sockaddr_storage>.size {
                var storage = sockaddr_storage()
                let source = UnsafeRawBufferPointer(start: raw, count: length)
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
                addresses.append(SocketAddress(storage: storage, length: current.pointee.ai_addrlen))
            }
            entry = current.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(.notConnected("the Redis host name has no addresses")) : .success(addresses)
    }

    /// A `sockaddr_un` in the storage `SocketAddress` carries (the URL parser checked the length).
    static func unixAddress(_ path: String) -> SocketAddress {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(107))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { target in
            withUnsafeBytes(of: address) { source in target.copyMemory(from: source) }
        }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1
        return SocketAddress(storage: storage, length: socklen_t(length))
    }
}
