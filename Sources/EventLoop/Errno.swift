import Glibc

/// A POSIX error number as a value (swift-system style).
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno`, read right after a failed call.
    public static var current: Errno { Errno(errno) }

    public var description: String { String(cString: strerror(rawValue)) + " (errno \(rawValue))" }

    public var isWouldBlock: Bool { rawValue == EAGAIN || rawValue == EWOULDBLOCK }
}

/// The result of a non-blocking I/O call (SwiftNIO style).
public enum IOResult<Value: Sendable>: Sendable {
    case processed(Value)
    case wouldBlock
}

/// Runs a syscall, retrying on EINTR: the one place interrupted calls are handled.
@inline(__always)
func retryingInterrupts<T: FixedWidthInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}

/// Runs a syscall that returns -1 on failure and throws its errno.
@inline(__always)
@discardableResult
func syscall<T: FixedWidthInteger>(_ call: () -> T) throws(Errno) -> T {
    let result = retryingInterrupts(call)
    if result == -1 { throw Errno.current }
    return result
}
