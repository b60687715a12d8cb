import EventLoop

/// One upstream call (all its attempts): the stage it is in, and its answer. The one who moves the
/// call on says so by name (`enterQueue`, `startRunning`, `startBackoff`, `finish`, ...); `cancel()`
/// stops whatever stage it is in and answers `.cancelled`. The call is answered exactly once.
///
/// `@unchecked Sendable`: everything but `loop` is only touched on `loop`'s thread; `cancel()`
/// hops there first.
public final class UpstreamCall: @unchecked Sendable {
    enum Stage {
        /// Before an attempt is queued or sent, or while its answer is handled: nothing to stop. A
        /// cancel here is only noted; whoever moves the call on checks `isCancelled` first.
        case idle
        /// Waiting for a slot of the loop's limiter.
        case queued(ConcurrencyLimiter.Ticket)
        /// An attempt on the wire; `cancel` stops it.
        case running(cancel: () -> Void)
        /// Waiting on a loop timer to retry.
        case backingOff(LoopTimers.ID)
        /// Answered; nothing happens any more.
        case done
    }

    let loop: EventLoop
    private let waits: (any UpstreamCallWaits)?
    private var completion: ((Result<UpstreamResponse, UpstreamFailure>) -> Void)?
    private(set) var stage = Stage.idle
    private(set) var isCancelled = false

    /// `waits` takes the call out of a queue or a back-off; a call that never enters them (a test
    /// double's) needs none. `completion` runs on `loop`, once.
    init(
        loop: EventLoop, waits: (any UpstreamCallWaits)? = nil,
        completion: @escaping (Result<UpstreamResponse, UpstreamFailure>) -> Void
    ) {
        self.loop = loop
        self.waits = waits
        self.completion = completion
    }

    public func cancel() {
        if loop.inEventLoop {
            cancelOnLoop()
        } else {
            loop.execute { self.cancelOnLoop() }
        }
    }

    // MARK: stages (on the loop)

    func enterQueue(_ ticket: ConcurrencyLimiter.Ticket) {
        assert(isIdle, "only an idle call asks for a slot")
        stage = .queued(ticket)
    }

    /// The limiter gave the call its slot.
    func leaveQueue() {
        guard case .queued = stage else { return assertionFailure("not queued") }
        stage = .idle
    }

    /// The attempt is on the wire. A completion that came synchronously, inside the attempt, has
    /// already moved the call on (answered it, or started a back-off): that stage stays.
    func startRunning(cancel: @escaping () -> Void) {
        guard isIdle else { return }
        stage = .running(cancel: cancel)
    }

    /// The attempt's answer is in: the transfer is over, nothing to cancel until the next stage.
    func attemptEnded() {
        if case .running = stage { stage = .idle }
    }

    func startBackoff(_ timer: LoopTimers.ID) {
        assert(isIdle, "a back-off follows an attempt's answer")
        stage = .backingOff(timer)
    }

    /// The back-off timer fired.
    func endBackoff() {
        guard case .backingOff = stage else { return assertionFailure("not backing off") }
        stage = .idle
    }

    /// Answers the call, unless it has been answered already.
    func finish(_ result: Result<UpstreamResponse, UpstreamFailure>) {
        guard let completion else { return }
        self.completion = nil
        stage = .done
        completion(result)
    }

    private var isIdle: Bool {
        if case .idle = stage { return true }
        return false
    }

    /// `cancel()` on `loop`'s thread (where the tests call it, the loop not running).
    func cancelOnLoop() {
        guard !isCancelled else { return }
        isCancelled = true
        switch stage {
        case .idle, .done:
            return
        case .queued(let ticket):
            waits?.withdraw(ticket)
        case .running(let cancelAttempt):
            // A stopped transfer answers `.cancelled` itself, after giving back its slot; the
            // `finish` below then finds the call done (it answers for one that does not).
            cancelAttempt()
        case .backingOff(let timer):
            waits?.cancelBackoff(timer)
        }
        finish(.failure(.cancelled))
    }
}

/// Where a call waits off the wire, and how it is taken out: the loop's queue for an upstream
/// slot, and its timers. `UpstreamSlots` in the product.
protocol UpstreamCallWaits: AnyObject {
    func withdraw(_ ticket: ConcurrencyLimiter.Ticket)
    func cancelBackoff(_ timer: LoopTimers.ID)
}
