import Foundation
import HTTP
#if canImport(FoundationNetworking)
import FoundationNetworking
import Locking
#endif

public struct UpstreamRequest: Sendable {
    public var method: String
    /// Path and query, e.g. `/v2/Flows/FW…/Executions?PageSize=5`.
    public var pathAndQuery: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String, pathAndQuery: String, headers: HTTPHeaders, body: [UInt8] = []) {
        self.method = method
        self.pathAndQuery = pathAndQuery
        self.headers = headers
        self.body = body
    }
}

public struct UpstreamResponse: Sendable {
    public var status: Int
    /// Only the end-to-end fields the gateway passes on (Content-Type, Twilio-Request-Id).
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

public enum UpstreamFailure: Error, Equatable, Sendable {
    /// Could not connect, TLS refused, connection reset: the client gets 502.
    case unreachable(String)
    /// No complete answer within the timeout: the client gets 504.
    case timeout
    /// A success status with a body that is not Studio JSON: the client gets 502, nothing is cached.
    case invalidResponse
    /// Too many calls already in flight and the queue deadline passed: the client gets 503.
    case overloaded
}

/// Calls the upstream Studio over URLSession (libcurl on Linux). Reads reuse connections; writes
/// do not (see `writes`). Redirects are never followed: the upstream's answer is passed back as it is.
public final class UpstreamClient: Sendable {
    public let baseURL: URL
    /// GET/HEAD: pooled keep-alive connections.
    private let reads: URLSession
    /// POST/DELETE: a fresh connection per call, closed after it. libcurl silently re-sends a
    /// request when a reused connection turns out dead, and FoundationNetworking does not rewind
    /// the body for it: the upstream got the head again with no body and answered 408 after its
    /// timeout (measured with the mock's reset fault). A write must be sent at most once, so it
    /// never rides a reused connection; its failure is reported, never retried.
    private let writes: URLSession
    private let timeout: TimeInterval
    private let deadlines = Deadlines()

    /// Response fields passed back to clients; everything else (framing, cookies, hop-by-hop) stays here.
    static let returnedHeaders = ["Content-Type", "Twilio-Request-Id"]

    public init(baseURL: URL, timeout: TimeInterval, maxConnections: Int = 64) {
        self.baseURL = baseURL
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpMaximumConnectionsPerHost = maxConnections
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        reads = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
        writes = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    public func send(_ request: UpstreamRequest, timeout: Double? = nil, completion: @escaping @Sendable (Result<UpstreamResponse, UpstreamFailure>) -> Void) {
        guard let url = URL(string: baseURL.absoluteString.trimmingSuffix("/") + request.pathAndQuery) else {
            completion(.failure(.unreachable("invalid upstream URL")))
            return
        }
        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = request.method
        // FoundationNetworking turns a timeout under one second into an immediate -1001 (measured),
        // so the per-call budget is whole seconds, at least one.
        let budget = max(1, (timeout ?? self.timeout).rounded(.up))
        urlRequest.timeoutInterval = budget
        for (name, value) in request.headers { urlRequest.addValue(value, forHTTPHeaderField: name) }
        let isRead = request.method == "GET" || request.method == "HEAD"
        if !isRead {
            urlRequest.httpBody = Data(request.body)
            urlRequest.setValue("close", forHTTPHeaderField: "Connection")
        }
        // Whichever comes first answers: the task, or the budget running out.
        let call = PendingCall(completion, deadlines: deadlines)
        let task = (isRead ? reads : writes).dataTask(with: urlRequest) { data, response, error in
            if let error {
                call.finish(.failure(Self.classify(error)))
                return
            }
            guard let http = response as? HTTPURLResponse else {
                call.finish(.failure(.unreachable("upstream sent no HTTP response")))
                return
            }
            var headers = HTTPHeaders()
            for name in Self.returnedHeaders {
                if let value = http.value(forHTTPHeaderField: name) { headers.add(name, value) }
            }
            call.finish(.success(UpstreamResponse(status: http.statusCode, headers: headers, body: data.map { [UInt8]($0) } ?? [])))
        }
        call.started(task)
        // URLSession's timeouts are idle timeouts in practice: an upstream trickling a byte now and
        // then kept a call open for 20 s against a 2 s budget (measured). The budget is enforced here.
        deadlines.track(call, seconds: budget)
        task.resume()
    }

    static func classify(_ error: any Error) -> UpstreamFailure {
        let code = (error as? URLError)?.code ?? URLError.Code(rawValue: (error as NSError).code) ?? .unknown
        switch code {
        case .timedOut: return .timeout
        case .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateHasUnknownRoot,
             .serverCertificateNotYetValid, .secureConnectionFailed, .clientCertificateRejected:
            return .unreachable("TLS handshake with the upstream failed")
        case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet:
            return .unreachable("cannot connect to the upstream")
        case .networkConnectionLost, .badServerResponse:
            return .unreachable("the upstream closed the connection before answering")
        default:
            return .unreachable("upstream request failed (URLError \(code.rawValue))")
        }
    }

    public func shutdown() {
        reads.invalidateAndCancel()
        writes.invalidateAndCancel()
    }
}

/// One upstream call in flight: answered at most once (by the task or by its deadline), after
/// which it lets go of the task and the completion, so nothing they hold outlives the answer.
private final class PendingCall: Sendable {
    private struct State {
        var completion: (@Sendable (Result<UpstreamResponse, UpstreamFailure>) -> Void)?
        var task: URLSessionTask?
    }

    private let state: Locked<State>
    private let deadlines: Deadlines

    init(_ completion: @escaping @Sendable (Result<UpstreamResponse, UpstreamFailure>) -> Void, deadlines: Deadlines) {
        state = Locked(State(completion: completion))
        self.deadlines = deadlines
    }

    func started(_ task: URLSessionTask) {
        state.withLock { if $0.completion != nil { $0.task = task } }
    }

    /// The task's answer, unless the deadline answered first.
    func finish(_ result: Result<UpstreamResponse, UpstreamFailure>) {
        claim()?.completion(result)
    }

    /// The budget ran out: stop the transfer and answer with a timeout, unless already answered.
    func expire() {
        guard let (completion, task) = claim() else { return }
        task?.cancel()
        completion(.failure(.timeout))
    }

    /// Takes the completion (and task) exactly once and lets go of them here.
    private func claim() -> (completion: @Sendable (Result<UpstreamResponse, UpstreamFailure>) -> Void, task: URLSessionTask?)? {
        let taken = state.withLock { state in
            defer { state = State() }
            return state
        }
        guard let completion = taken.completion else { return nil }
        deadlines.forget(self)
        return (completion, taken.task)
    }
}

/// The deadlines of the calls in flight, checked by one timer every 250 ms. (A timer per call
/// kept every call's memory until its deadline: under 1,200 misses/s with a 10 s budget the
/// memory benchmark grew from 1.4 to 2.8 KB per cached entry.)
private final class Deadlines: @unchecked Sendable {
    // `timer` is set once in init; everything else is behind the mutex.
    private let calls = Locked<[ObjectIdentifier: (call: PendingCall, deadline: UInt64)]>([:])
    private let timer = DispatchSource.makeTimerSource(queue: .global())

    init() {
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250))
        timer.setEventHandler { [weak self] in self?.expire() }
        timer.resume()
    }

    deinit { timer.cancel() }

    func track(_ call: PendingCall, seconds: Double) {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        calls.withLock { $0[ObjectIdentifier(call)] = (call, deadline) }
    }

    func forget(_ call: PendingCall) {
        _ = calls.withLock { $0.removeValue(forKey: ObjectIdentifier(call)) }
    }

    private func expire() {
        let now = DispatchTime.now().uptimeNanoseconds
        let late = calls.withLock { calls in calls.values.filter { $0.deadline <= now }.map(\.call) }
        for call in late { call.expire() }
    }
}

/// Refuses every redirect so the 3xx itself is returned (a gateway must not wander to other hosts).
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
