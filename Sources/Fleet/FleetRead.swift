import Cache
import EventLoop

extension Fleet {
    /// Reads `key` through the fleet for a verified caller's first-level miss (see `FleetRead`).
    /// `askUpstream` makes the upstream call and returns how to cancel it.
    public func read<Answer>(
        _ key: CacheKey, on loop: EventLoop,
        askUpstream: @escaping (_ answered: @escaping (Answer) -> Void) -> (() -> Void),
        complete: @escaping (FleetRead<Answer>.Result) -> Void
    ) -> FleetRead<Answer> {
        let read = FleetRead(fleet: self, key: key, loop: loop, askUpstream: askUpstream, complete: complete)
        read.start()
        return read
    }
}

/// One first-level miss read through the fleet, in the order it runs: look the key up in Redis;
/// on a miss take the key's lease; the lease holder asks the upstream; a pod that lost the lease
/// looks again every 25 ms for the winner's entry, for up to `leaseWait`, then asks the upstream
/// itself. So one pod per key calls Twilio, and a slow or absent winner costs at most `leaseWait`.
///
/// The stage is explicit, so `cancel` knows what to stop: a lookup or lease in flight is
/// answered `.cancelled` at once (its late reply is ignored; a lease taken meanwhile is given
/// back), a pending poll's timer is cancelled, and an upstream call is cancelled and its answer
/// (the upstream's `.cancelled`) completes the read. `@unchecked Sendable`: every field is touched
/// on `loop` only; `cancel` hops there.
public final class FleetRead<Answer>: @unchecked Sendable {
    public enum Result {
        /// A fresh entry another pod stored, now in this pod's first level too.
        case adopted(CachedResponse)
        case upstream(Answer)
        case cancelled
    }

    private enum Stage {
        case lookingUp
        case leasing
        /// Lost the lease: looking again until `until`; `timer` is the next look, nil while one is out.
        case awaitingWinner(until: Double, timer: LoopTimers.ID?)
        case askingUpstream(cancel: () -> Void)
        case done
    }

    private static var pollInterval: UInt64 { 25_000_000 }

    private let fleet: Fleet
    private let key: CacheKey
    private let loop: EventLoop
    private let askUpstream: (_ answered: @escaping (Answer) -> Void) -> (() -> Void)
    private let complete: (Result) -> Void
    private var stage = Stage.lookingUp
    private var holdsLease = false

    fileprivate init(
        fleet: Fleet, key: CacheKey, loop: EventLoop,
        askUpstream: @escaping (_ answered: @escaping (Answer) -> Void) -> (() -> Void),
        complete: @escaping (Result) -> Void
    ) {
        self.fleet = fleet
        self.key = key
        self.loop = loop
        self.askUpstream = askUpstream
        self.complete = complete
    }

    fileprivate func start() {
        fleet.lookUp(key, on: loop) { [self] entry in lookedUp(entry) }
    }

    private func lookedUp(_ entry: CachedResponse?) {
        guard case .lookingUp = stage else { return }
        if let entry = fleet.adopt(entry, key: key) { return finish(.adopted(entry)) }
        stage = .leasing
        fleet.takeLease(key, on: loop) { [self] taken in leaseAnswered(taken) }
    }

    private func leaseAnswered(_ taken: Bool) {
        guard case .leasing = stage else {
            if taken { fleet.releaseLease(key, on: loop) }  // cancelled meanwhile: nobody will ask
            return
        }
        holdsLease = taken
        if taken { return callUpstream() }
        stage = .awaitingWinner(until: fleet.clock() + fleet.leaseWait, timer: nil)
        scheduleLook()
    }

    private func scheduleLook() {
        guard case .awaitingWinner(let until, nil) = stage else { return }
        let timer = loop.schedule(after: Self.pollInterval) { [self] in lookForWinner() }
        stage = .awaitingWinner(until: until, timer: timer)
    }

    private func lookForWinner() {
        guard case .awaitingWinner(let until, _?) = stage else { return }
        stage = .awaitingWinner(until: until, timer: nil)
        fleet.lookUp(key, on: loop) { [self] entry in
            guard case .awaitingWinner = stage else { return }
            if let entry = fleet.adopt(entry, key: key) { return finish(.adopted(entry)) }
            guard fleet.clock() < until else { return callUpstream() }
            scheduleLook()
        }
    }

    private func callUpstream() {
        // The stage is set before the call: its answer may come back inside `askUpstream`.
        stage = .askingUpstream(cancel: {})
        let cancel = askUpstream { [self] answer in
            if holdsLease { fleet.releaseLease(key, on: loop) }
            finish(.upstream(answer))
        }
        if case .askingUpstream = stage { stage = .askingUpstream(cancel: cancel) }
    }

    private func finish(_ result: Result) {
        stage = .done
        complete(result)
    }

    /// The last waiter left: stop whatever stage the read is in.
    public func cancel() {
        guard loop.inEventLoop else { return loop.execute { self.cancel() } }
        switch stage {
        case .lookingUp, .leasing, .awaitingWinner(_, nil):
            finish(.cancelled)
        case .awaitingWinner(_, let timer?):
            loop.cancel(timer)
            finish(.cancelled)
        case .askingUpstream(let cancel):
            cancel()  // its answer finishes the read
        case .done:
            break
        }
    }
}
