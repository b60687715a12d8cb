import EventLoop

/// The events a connection waits for; the raw value is epoll's bits.
struct ConnectionInterest: OptionSet, Equatable {
    let rawValue: UInt32

    static let readable = ConnectionInterest(rawValue: EpollEvents.readable)
    static let writable = ConnectionInterest(rawValue: EpollEvents.writable)
    /// The client closed or reset its side (EPOLLRDHUP, EPOLLHUP, EPOLLERR).
    static let hangup = ConnectionInterest(rawValue: EpollEvents.hangup)
}
