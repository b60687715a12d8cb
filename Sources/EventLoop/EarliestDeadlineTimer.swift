/// What `EarliestDeadlineTimer` needs of a loop: its clock and its one-shot timers. A protocol so
/// tests can drive the timer with a clock of their own.
public protocol DeadlineScheduling: AnyObject {
    /// Monotonic nanoseconds.
    var currentTime: UInt64 { get }
    @discardableResult
    func schedule(after nanoseconds: UInt64, _ task: @escaping () -> Void) -> LoopTimers.ID
    func cancel(_ timer: LoopTimers.ID)
}

extension EventLoop: DeadlineScheduling {
    public var currentTime: UInt64 { MonotonicClock.now() }
}

/// One loop timer for many deadlines (a connection's commands, a pool's waiting commands), rather
/// than one timer each: the loop's timer list is meant for a handful. It stays armed at the
/// earliest deadline asked for; when it fires, `onFire` deals with what is due and answers the
/// next deadline to wait for, if any.
public final class EarliestDeadlineTimer {
    private let scheduler: any DeadlineScheduling
    private let onFire: (_ now: UInt64) -> UInt64?
    private var armed: (id: LoopTimers.ID, at: UInt64)? = nil

    public init(scheduler: any DeadlineScheduling, onFire: @escaping (_ now: UInt64) -> UInt64?) {
        self.scheduler = scheduler
        self.onFire = onFire
    }

    /// When the timer will fire, if armed.
    public var deadline: UInt64? { armed?.at }

    /// Fires at `deadline` or earlier: a later deadline than the armed one waits for the next fire.
    public func arm(at deadline: UInt64) {
        if let armed {
            if armed.at <= deadline { return }
            scheduler.cancel(armed.id)
        }
        let now = scheduler.currentTime
        let id = scheduler.schedule(after: deadline > now ? deadline - now : 0) { [weak self] in self?.fire() }
        armed = (id, deadline)
    }

    public func cancel() {
        if let armed { scheduler.cancel(armed.id) }
        armed = nil
    }

    private func fire() {
        armed = nil
        if let next = onFire(scheduler.currentTime) { arm(at: next) }
    }
}
