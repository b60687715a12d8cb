import EventLoop

/// A handle on one upstream call (all its attempts): `cancel()` stops whatever stage it is in
/// (queued for a slot, on the wire, waiting to retry) and answers it `.cancelled`.
///
/// `@unchecked Sendable`: `stopCurrentStage` and `isCancelled` are only touched on `loop`'s
/// thread; `cancel()` hops there first.
public final class UpstreamCall: @unchecked Sendable {
    let loop: EventLoop
    var stopCurrentStage: (() -> Void)? = nil
    private(set) var isCancelled = false

    public init(loop: EventLoop) {
        self.loop = loop
    }

    public func cancel() {
        if loop.inEventLoop {
            cancelOnLoop()
        } else {
            loop.execute { self.cancelOnLoop() }
        }
    }

    private func cancelOnLoop() {
        guard !isCancelled else { return }
        isCancelled = true
        let stop = stopCurrentStage
        stopCurrentStage = nil
        stop?()
    }
}
