import Dispatch
import EventLoop
import Glibc
import Locking
import Redis

/// One event loop of the test's own, and a way to run a client call on it and wait (boundedly)
/// for the value its completion hands back.
final class RedisLoopHarness {
    let group: EventLoopGroup
    var loop: EventLoop { group.loops[0] }

    init(threads: Int = 1) throws { group = try EventLoopGroup(threads: threads) }

    func shutdown() { group.shutdown() }

    /// Runs `body` on the loop; the value it passes to its callback, or nil after `timeout` seconds.
    func run<T: Sendable>(
        timeout: Double = 5, on loopIndex: Int = 0,
        _ body: @escaping @Sendable (EventLoop, @escaping @Sendable (T) -> Void) -> Void
    ) -> T? {
        let result = Locked<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        let loop = group.loops[loopIndex]
        loop.execute {
            body(loop) { value in
                result.withLock { $0 = value }
                done.signal()
            }
        }
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return result.withLock { $0 }
    }

    func get(_ client: RedisClient, _ key: String, timeoutMilliseconds: Int? = nil) -> Result<[UInt8]?, RedisError>? {
        run { loop, done in client.get(key, on: loop, timeoutMilliseconds: timeoutMilliseconds) { done($0) } }
    }

    func set(
        _ client: RedisClient, _ key: String, _ value: [UInt8], expireMilliseconds: Int = 60_000,
        onlyIfAbsent: Bool = false, timeoutMilliseconds: Int? = nil
    ) -> Result<Bool, RedisError>? {
        run { loop, done in
            client.set(
                key, value, expireMilliseconds: expireMilliseconds, onlyIfAbsent: onlyIfAbsent, on: loop,
                timeoutMilliseconds: timeoutMilliseconds
            ) { done($0) }
        }
    }

    func ping(_ client: RedisClient, timeoutMilliseconds: Int? = nil) -> Result<Bool, RedisError>? {
        run { loop, done in client.ping(on: loop, timeoutMilliseconds: timeoutMilliseconds) { done($0.map { true }) } }
    }

    func subscribe(
        _ client: RedisClient, _ channels: [String],
        handler: @escaping @Sendable (RedisSubscriptionEvent) -> Void
    ) -> RedisSubscription? {
        run { (loop, done: @escaping @Sendable (RedisSubscription) -> Void) in
            done(client.subscribe(channels, on: loop, handler: handler))
        }
    }

    /// Pings every 20 ms until one succeeds, for at most `seconds`; true if one did.
    func waitUntilAnswering(_ client: RedisClient, seconds: Double = 5) -> Bool {
        let end = MonotonicClock.now() + MonotonicClock.nanoseconds(seconds)
        while MonotonicClock.now() < end {
            if case .success = ping(client, timeoutMilliseconds: 200) { return true }
            usleep(20_000)
        }
        return false
    }
}
