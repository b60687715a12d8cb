import Glibc

/// An IPv4 or IPv6 socket address parsed from `host:port` or `[v6]:port`.
public struct SocketAddress: Sendable, CustomStringConvertible {
    public var storage: sockaddr_storage
    public var length: socklen_t

    public init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// Parses a numeric `host:port` (`127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:0`). No DNS lookups.
    public init(parsing text: String) throws(AddressError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw AddressError(text)
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw AddressError(text) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), !host.isEmpty else { throw AddressError(text) }

        var storage = sockaddr_storage()
        var length: socklen_t = 0
        let ok: Bool = String(host).withCString { hostPtr in
            withUnsafeMutableBytes(of: &storage) { raw in
                if host.contains(":") {
                    let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                    sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                    sin6.pointee.sin6_port = port.bigEndian
                    length = socklen_t(MemoryLayout<sockaddr_in6>.size)
                    return inet_pton(AF_INET6, hostPtr, &sin6.pointee.sin6_addr) == 1
                } else {
                    let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                    sin.pointee.sin_family = sa_family_t(AF_INET)
                    sin.pointee.sin_port = port.bigEndian
                    length = socklen_t(MemoryLayout<sockaddr_in>.size)
                    return inet_pton(AF_INET, hostPtr, &sin.pointee.sin_addr) == 1
                }
            }
        }
        guard ok else { throw AddressError(text) }
        self.storage = storage
        self.length = length
    }

    public var family: Int32 { Int32(storage.ss_family) }

    public var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            family == AF_INET6
                ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
                : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    public var host: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                var addr = raw.load(as: sockaddr_in6.self).sin6_addr
                _ = inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
            } else {
                var addr = raw.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
            }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var isLoopback: Bool {
        family == AF_INET6 ? host == "::1" : host.hasPrefix("127.")
    }

    /// 0.0.0.0 or [::]: every interface.
    public var isWildcard: Bool {
        family == AF_INET6 ? host == "::" : host == "0.0.0.0"
    }

    /// `host:port`, with brackets around IPv6 hosts, as used in URLs.
    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}

public struct AddressError: Error, CustomStringConvertible {
    public let text: String
    init(_ text: String) { self.text = text }
    public var description: String { "not a numeric host:port address: '\(text)'" }
}
