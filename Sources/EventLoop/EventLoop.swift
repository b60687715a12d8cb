import CLinux
import Glibc
import Locking
import Synchronization

/// Something that owns a file descriptor registered with an `EventLoop`.
public protocol EventHandler: AnyObject {
    /// Called on the loop's thread with the epoll event bits that fired.
    func handleEvents(_ events: UInt32)
    /// Called once on the loop's thread when the loop stops with the handler still registered:
    /// release the fd and anything that points back at the loop.
    func loopDidStop()
}

extension EventHandler {
    public func loopDidStop() {}
}

/// State another layer keeps on one loop (see `EventLoop.local`), told when the loop stops.
public protocol LoopLocal: AnyObject {
    /// Called once on the loop's thread after every handler has been told.
    func loopDidStop()
}

public enum EpollEvents {
    public static let readable = CLINUX_EPOLLIN
    public static let writable = CLINUX_EPOLLOUT
    public static let hangup = CLINUX_EPOLLHUP | CLINUX_EPOLLERR | CLINUX_EPOLLRDHUP
    public static let exclusive = CLINUX_EPOLLEXCLUSIVE
}

/// One thread, one epoll instance, level-triggered. Other threads reach it only through `execute`,
/// which queues a task under a mutex and wakes the loop through an eventfd.
public final class EventLoop: @unchecked Sendable {
    // Confinement: `handlers` and `tickers` are used only on the loop thread (register/deregister
    // and the callbacks run there). `pending`, `threadID` and `running` are synchronised.
    private let epollFD: Int32
    private let wakeFD: Int32
    /// Indexed by fd (the kernel hands out the lowest free numbers, so this stays as long as the
    /// most connections ever open at once): one array read per event, no hashing. Handlers and
    /// timers are touched by the loop's thread only and copied out before a callback runs, so no
    /// access overlaps another: no runtime exclusivity check on every event.
    @exclusivity(unchecked) private var handlers: [EventHandler?] = []
    private var tickers: [() -> Void] = []
    @exclusivity(unchecked) private var timers = LoopTimers()
    /// Per-loop state of other layers (the upstream engine's multi handle), keyed by its owner's
    /// identity. The owner is kept weakly and checked: a new owner can be given a dead one's
    /// address (and so its ObjectIdentifier).
    private var locals: [ObjectIdentifier: (owner: Weak, value: LoopLocal)] = [:]
    private let pending = Locked<[@Sendable () -> Void]>([])
    private let threadID = Atomic<UInt>(0)
    private let running = Atomic<Bool>(true)
    /// How often tickers run (timeouts are checked at this granularity).
    public let tickInterval: UInt64 = 250_000_000

    public init() throws(Errno) {
        epollFD = try syscall { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        wakeFD = try syscall { clinux_eventfd_nonblocking() }
        var event = epoll_event()
        event.events = EpollEvents.readable
        event.data.fd = wakeFD
        try syscall { epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) }
    }

    deinit {
        Socket.close(wakeFD)
        Socket.close(epollFD)
    }

    public var inEventLoop: Bool { threadID.load(ordering: .relaxed) == UInt(pthread_self()) }

    /// Runs `task` on the loop thread, soon. Safe from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        pending.withLock { $0.append(task) }
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    public func register(_ fd: Int32, events: UInt32, handler: EventHandler) throws(Errno) {
        precondition(inEventLoop, "fd registration must happen on the loop thread")
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        try syscall { epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) }
        if Int(fd) >= handlers.count { handlers += Array(repeating: nil, count: Int(fd) + 1 - handlers.count) }
        handlers[Int(fd)] = handler
    }

    public func modify(_ fd: Int32, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    /// Removes `fd` from the loop; the caller still owns (and closes) it. Loop thread only: the
    /// handlers, like the timers, are read without a lock or an exclusivity check.
    public func deregister(_ fd: Int32) {
        precondition(inEventLoop)
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    /// Adds a callback run on the loop thread every `tickInterval` (timeouts, cached Date header).
    public func addTicker(_ ticker: @escaping () -> Void) {
        precondition(inEventLoop)
        tickers.append(ticker)
    }

    /// Runs `task` on the loop thread once `nanoseconds` have passed. Loop thread only.
    @discardableResult
    public func schedule(after nanoseconds: UInt64, _ task: @escaping () -> Void) -> LoopTimers.ID {
        precondition(inEventLoop)
        return timers.add(deadline: MonotonicClock.now() &+ nanoseconds, task)
    }

    /// Forgets a scheduled task that has not run yet (no-op if it has). Loop thread only.
    public func cancel(_ timer: LoopTimers.ID) {
        precondition(inEventLoop)
        timers.remove(timer)
    }

    /// The object `owner` keeps on this loop, made by `make` on first use. Loop thread only, so
    /// it needs no lock: the state of one loop is only ever touched by that loop.
    public func local<T: LoopLocal>(for owner: AnyObject, make: () -> T) -> T {
        precondition(inEventLoop)
        let key = ObjectIdentifier(owner)
        if let existing = locals[key] {
            if existing.owner.object === owner { return existing.value as! T }
            existing.value.loopDidStop()  // a dead owner's: nobody else will free what it holds
        }
        let made = make()
        locals[key] = (Weak(owner), made)
        return made
    }

    public func stop() {
        running.store(false, ordering: .relaxed)
        execute {}
    }

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        var events = [epoll_event](repeating: epoll_event(), count: 512)
        var now = MonotonicClock.now()
        var nextTick = now + tickInterval
        while running.load(ordering: .relaxed) {
            // `now` is the end of the previous turn: only timers and tickers ran since.
            let timeout = timers.millisecondsUntilNext(now: now, atMost: 250)
            let count = events.withUnsafeMutableBufferPointer { buffer in
                retryingInterrupts { epoll_wait(epollFD, buffer.baseAddress, Int32(buffer.count), timeout) }
            }
            for index in 0..<max(0, Int(count)) {
                let fd = events[index].data.fd
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = Glibc.read(wakeFD, &value, 8)
                    continue
                }
                let handler = Int(fd) < handlers.count ? handlers[Int(fd)] : nil
                handler?.handleEvents(events[index].events)
            }
            runPendingTasks()
            now = MonotonicClock.now()
            while let due = timers.popDue(now: now) { due() }
            if now >= nextTick {
                nextTick = now + tickInterval
                for ticker in tickers { ticker() }
            }
        }
        runPendingTasks()
        // Handlers and tickers refer back to the loop; dropping them here breaks those cycles,
        // so a stopped loop (an in-process server being shut down) frees its memory and fds.
        // `remaining` keeps every handler alive until all have been told (connections use state
        // the acceptor owns).
        let remaining = handlers
        for handler in remaining { handler?.loopDidStop() }
        handlers = []
        tickers = []
        let stoppingLocals = locals
        for local in stoppingLocals.values { local.value.loopDidStop() }
        locals = [:]
        timers = LoopTimers()
    }

    private func runPendingTasks() {
        while true {
            // Taken whole (the queue starts empty again): no allocation when nothing is pending,
            // which is every loop turn of a busy server.
            let tasks = pending.withLock { queue -> [@Sendable () -> Void] in
                if queue.isEmpty { return [] }
                defer { queue = [] }
                return queue
            }
            if tasks.isEmpty { return }
            for task in tasks { task() }
        }
    }
}

/// A reference that does not keep its object alive.
private struct Weak {
    weak var object: AnyObject?

    init(_ object: AnyObject) { self.object = object }
}
