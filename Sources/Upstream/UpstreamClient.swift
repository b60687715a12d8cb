import Foundation
import HTTP
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
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
        let answered = Once()
        let task = (isRead ? reads : writes).dataTask(with: urlRequest) { data, response, error in
            guard answered.claim() else { return }
            if let error {
                completion(.failure(Self.classify(error)))
                return
            }
            guard let http = response as? HTTPURLResponse else {
                completion(.failure(.unreachable("upstream sent no HTTP response")))
                return
            }
            var headers = HTTPHeaders()
            for name in Self.returnedHeaders {
                if let value = http.value(forHTTPHeaderField: name) { headers.add(name, value) }
            }
            completion(.success(UpstreamResponse(status: http.statusCode, headers: headers, body: data.map { [UInt8]($0) } ?? [])))
        }
        task.resume()
        // URLSession's timeouts are idle timeouts in practice: an upstream trickling a byte now and
        // then kept a call open for 20 s against a 2 s budget (measured). The budget is enforced here.
        DispatchQueue.global().asyncAfter(deadline: .now() + budget) {
            guard answered.claim() else { return }
            task.cancel()
            completion(.failure(.timeout))
        }
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

/// True for the first caller only.
private final class Once: Sendable {
    private let done = Atomic<Bool>(false)
    func claim() -> Bool { !done.exchange(true, ordering: .acquiringAndReleasing) }
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
