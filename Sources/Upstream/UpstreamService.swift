import Dispatch
import Foundation

/// The upstream as the gateway uses it: bounded concurrency, and retries with jittered
/// exponential backoff for idempotent requests that met a 429 or a connection error, all
/// within one deadline per request. Non-idempotent requests (creates, updates) are sent once.
public final class UpstreamService: Sendable {
    public let client: UpstreamClient
    let limiter: ConcurrencyLimiter
    let timeout: Double
    let maxAttempts: Int
    let baseBackoff: Double
    /// Called once per upstream attempt with its status (0 = no HTTP answer) and duration in seconds.
    let onAttempt: @Sendable (Int, Double) -> Void

    public init(client: UpstreamClient, maxConcurrency: Int, queueTimeout: Double, timeout: Double,
                maxAttempts: Int = 3, baseBackoff: Double = 0.1, onAttempt: @escaping @Sendable (Int, Double) -> Void = { _, _ in }) {
        self.client = client
        limiter = ConcurrencyLimiter(limit: maxConcurrency, queueTimeout: queueTimeout)
        self.timeout = timeout
        self.maxAttempts = maxAttempts
        self.baseBackoff = baseBackoff
        self.onAttempt = onAttempt
    }

    public func send(_ request: UpstreamRequest, idempotent: Bool,
                     completion: @escaping @Sendable (Result<UpstreamResponse, UpstreamFailure>) -> Void) {
        attempt(request, number: 1, deadline: Date().addingTimeInterval(timeout), idempotent: idempotent, completion: completion)
    }

    private func attempt(_ request: UpstreamRequest, number: Int, deadline: Date, idempotent: Bool,
                         completion: @escaping @Sendable (Result<UpstreamResponse, UpstreamFailure>) -> Void) {
        limiter.acquire({ [self] in
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else {
                limiter.release()
                completion(.failure(.timeout))
                return
            }
            let started = Date()
            client.send(request, timeout: remaining) { [self] result in
                limiter.release()
                let elapsed = -started.timeIntervalSinceNow
                var result = result
                // FoundationNetworking sometimes reports a dead reused connection as "timed out"
                // within milliseconds; only a call that used its time budget is a timeout (504).
                if case .failure(.timeout) = result, elapsed < remaining * 0.5 {
                    result = .failure(.unreachable("the upstream connection failed"))
                }
                switch result {
                case .success(let response): onAttempt(response.status, elapsed)
                case .failure: onAttempt(0, elapsed)
                }
                let backoff = baseBackoff * pow(2, Double(number - 1)) * Double.random(in: 0.5...1.0)
                if idempotent, number < maxAttempts, Self.isRetryable(result), Date().addingTimeInterval(backoff + 0.05) < deadline {
                    DispatchQueue.global().asyncAfter(deadline: .now() + backoff) { [self] in
                        attempt(request, number: number + 1, deadline: deadline, idempotent: idempotent, completion: completion)
                    }
                } else {
                    completion(result)
                }
            }
        }, onTimeout: {
            completion(.failure(.overloaded))
        })
    }

    /// 429 (Twilio 20429: "safe to retry") and failures to connect; never timeouts (the budget is spent).
    static func isRetryable(_ result: Result<UpstreamResponse, UpstreamFailure>) -> Bool {
        switch result {
        case .success(let response): return response.status == 429
        case .failure(.unreachable): return true
        case .failure(.timeout), .failure(.overloaded), .failure(.invalidResponse): return false
        }
    }

    public var inFlight: Int { limiter.inFlight }
}
