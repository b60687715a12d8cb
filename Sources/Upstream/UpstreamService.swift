import EventLoop
import Synchronization

/// The upstream as the gateway uses it: bounded concurrency per loop, and retries with jittered
/// exponential backoff for idempotent requests that met a 429 or a connection error, all within
/// one deadline per request. Non-idempotent requests (creates, updates, deletes) are sent once.
public final class UpstreamService: Sendable {
    public let client: UpstreamClient
    /// Slots per loop: the configured total shared evenly, so no slot is ever borrowed across threads.
    let slotsPerLoop: Int
    let queueTimeout: Double
    let timeout: Double
    let maxAttempts: Int
    let baseBackoff: Double
    private let inFlightCount = Atomic<Int>(0)
    /// Called once per upstream attempt with its status (0 = no HTTP answer) and duration in seconds.
    let onAttempt: @Sendable (Int, Double) -> Void

    public init(
        client: UpstreamClient, maxConcurrency: Int, threads: Int, queueTimeout: Double, timeout: Double,
        maxAttempts: Int = 3, baseBackoff: Double = 0.1,
        onAttempt: @escaping @Sendable (Int, Double) -> Void = { _, _ in }
    ) {
        self.client = client
        slotsPerLoop = max(1, (maxConcurrency + max(1, threads) - 1) / max(1, threads))
        self.queueTimeout = queueTimeout
        self.timeout = timeout
        self.maxAttempts = maxAttempts
        self.baseBackoff = baseBackoff
        self.onAttempt = onAttempt
    }

    /// Sends `request` from `loop`'s thread (the loop of the client connection); `completion` runs
    /// there exactly once. `timeout` overrides the whole call's budget in seconds.
    @discardableResult
    public func send(
        _ request: UpstreamRequest, idempotent: Bool, admission: Admission = .verified, on loop: EventLoop,
        timeout: Double? = nil, completion: @escaping (Result<UpstreamResponse, UpstreamFailure>) -> Void
    ) -> UpstreamCall {
        precondition(loop.inEventLoop, "upstream calls start on the loop that answers them")
        let slots = slots(on: loop)
        let call = UpstreamCall(loop: loop, waits: slots, completion: completion)
        let now = MonotonicClock.now()
        let deadline = now + MonotonicClock.nanoseconds(timeout ?? self.timeout)
        attempt(
            request, number: 1, now: now, deadline: deadline, idempotent: idempotent, admission: admission,
            call: call, slots: slots)
        return call
    }

    /// Asks for a slot for attempt `number`, then sends it: at once, or when the slot is free.
    private func attempt(
        _ request: UpstreamRequest, number: Int, now: UInt64, deadline: UInt64, idempotent: Bool,
        admission: Admission, call: UpstreamCall, slots: UpstreamSlots
    ) {
        switch slots.acquire(admission, now: now) {
        case .start:
            transmit(
                request, number: number, deadline: deadline, idempotent: idempotent, admission: admission,
                call: call, slots: slots)
        case .queued(let ticket):
            slots.wait(call, ticket: ticket) { [self] in
                transmit(
                    request, number: number, deadline: deadline, idempotent: idempotent, admission: admission,
                    call: call, slots: slots)
            }
        }
    }

    /// Sends attempt `number` on a slot it holds, unless the call's budget ran out (or it was
    /// cancelled) meanwhile; its answer finishes the call or, if retryable, starts a back-off.
    private func transmit(
        _ request: UpstreamRequest, number: Int, deadline: UInt64, idempotent: Bool, admission: Admission,
        call: UpstreamCall, slots: UpstreamSlots
    ) {
        let loop = call.loop
        let now = MonotonicClock.now()
        guard now < deadline, !call.isCancelled else {
            slots.release(admission)
            call.finish(.failure(call.isCancelled ? .cancelled : .timeout))
            return
        }
        inFlightCount.wrappingAdd(1, ordering: .relaxed)
        let cancel = client.attempt(request, on: loop, timeoutMilliseconds: Int((deadline - now) / 1_000_000)) {
            [self] result in
            inFlightCount.wrappingSubtract(1, ordering: .relaxed)
            call.attemptEnded()
            slots.release(admission)
            let elapsed = MonotonicClock.now() - now
            switch result {
            case .success(let response): onAttempt(response.status.code, Double(elapsed) / 1e9)
            case .failure(.cancelled): break
            case .failure: onAttempt(0, Double(elapsed) / 1e9)
            }
            guard idempotent, number < maxAttempts, Self.isRetryable(result) else { return call.finish(result) }
            let backoff = MonotonicClock.nanoseconds(
                baseBackoff * Double(1 << (number - 1)) * Double.random(in: 0.5...1.0))
            guard MonotonicClock.now() + backoff + 50_000_000 < deadline else { return call.finish(result) }
            client.stats.retries.wrappingAdd(1, ordering: .relaxed)
            let retry = loop.schedule(after: backoff) { [self] in
                call.endBackoff()
                attempt(
                    request, number: number + 1, now: MonotonicClock.now(), deadline: deadline,
                    idempotent: idempotent, admission: admission, call: call, slots: slots)
            }
            call.startBackoff(retry)
        }
        if let cancel { call.startRunning(cancel: cancel) }
    }

    private func slots(on loop: EventLoop) -> UpstreamSlots {
        loop.local(for: self) { UpstreamSlots(loop: loop, limit: slotsPerLoop, queueTimeout: queueTimeout) }
    }

    /// 429 (Twilio 20429: "safe to retry") and failures to connect; never timeouts (the budget is spent).
    static func isRetryable(_ result: Result<UpstreamResponse, UpstreamFailure>) -> Bool {
        switch result {
        case .success(let response): return response.status == 429
        case .failure(.unreachable): return true
        case .failure(.timeout), .failure(.overloaded), .failure(.invalidResponse), .failure(.bodyTooLarge),
            .failure(.cancelled):
            return false
        }
    }

    public var inFlight: Int { inFlightCount.load(ordering: .relaxed) }
}
