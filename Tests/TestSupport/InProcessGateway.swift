import Dispatch
import EventLoop
import Foundation
import HTTP
import Locking
import XCTest

@testable import Gateway
@testable import Upstream

/// The gateway in process over a scripted upstream: the read and write paths, the cache, the
/// credential rules and coalescing, tested in milliseconds without sockets or processes. Time is
/// the test's (`advance`); requests run on real event loops, as in the server.
final class InProcessGateway {
    let group: EventLoopGroup
    let upstream = ScriptedUpstream()
    let gateway: Gateway
    private let time = Locked<Double>(1_000)

    init(_ configure: (inout GatewayConfig) -> Void = { _ in }, loops: Int = 1) throws {
        var config = GatewayConfig()
        config.logLevel = "warn"
        config.threads = loops
        configure(&config)
        group = try EventLoopGroup(threads: loops)
        let time = self.time
        // The wall clock moves with the test's clock from the real time of day, so the mock's
        // fixtures (created a day ago) are within retention, as they are end to end.
        let wallStart = Date().timeIntervalSince1970.rounded(.down) - time.withLock { $0 }
        gateway = Gateway(
            config: config, logger: Logger(level: .warn), connections: nil, clock: { time.withLock { $0 } },
            wallClock: { wallStart + time.withLock { $0 } }, upstream: upstream)
        gateway.serve(on: group.loops)
    }

    deinit {
        gateway.shutdown()
        group.shutdown()
    }

    func advance(_ seconds: Double) { time.withLock { $0 += seconds } }

    /// Starts a request on loop `loop` and returns its client without waiting for the answer.
    func start(
        _ method: HTTPMethod, _ target: String, auth: String?, headers: HTTPHeaders = [:], body: String = "",
        loop: Int = 0
    ) -> RecordingClient {
        var all = headers
        if let auth { all.add("Authorization", auth) }
        let request = HTTPRequest(method: method, target: target, headers: all, body: Array(body.utf8))
        let client = RecordingClient(loop: group.loops[loop])
        let gateway = self.gateway
        client.loop.execute { gateway.serve(request, client: client) }
        return client
    }

    /// Sends one request and waits (at most 5 s) for its answer.
    func send(
        _ method: HTTPMethod, _ target: String, auth: String?, headers: HTTPHeaders = [:], body: String = ""
    ) throws -> HTTPResponse {
        try start(method, target, auth: auth, headers: headers, body: body).answer()
    }

    /// Runs `work` on loop `loop` and waits for it: a barrier after asynchronous steps.
    func onLoop<T: Sendable>(_ loop: Int = 0, _ work: @escaping @Sendable () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Locked<T?>(nil)
        group.loops[loop].execute {
            result.withLock { $0 = work() }
            done.signal()
        }
        _ = done.wait(timeout: .now() + 5)
        return result.withLock { $0! }
    }
}

/// Where one in-process request's answer lands.
final class RecordingClient: ClientChannel, @unchecked Sendable {
    let loop: EventLoop
    var memo: ConnectionMemo? = nil
    private var goneAction: (() -> Void)? = nil
    private let response = Locked<HTTPResponse?>(nil)
    private let answered = DispatchSemaphore(value: 0)

    init(loop: EventLoop) { self.loop = loop }

    func respond(_ response: HTTPResponse) {
        self.response.withLock { $0 = $0 ?? response }
        answered.signal()
    }

    func onClientGone(_ action: @escaping () -> Void) { goneAction = action }

    /// The client closes its connection before its answer.
    func leave() {
        loop.execute { [self] in
            let action = goneAction
            goneAction = nil
            action?()
        }
    }

    /// The answer with every field in `headers`, as the client reads them (rendered blocks and Age included).
    func answer(timeout: Double = 5) throws -> HTTPResponse {
        guard answered.wait(timeout: .now() + timeout) == .success else { throw NoAnswer(seconds: timeout) }
        var answer = response.withLock { $0! }
        answer.headers = answer.allFields
        answer.rendered = (.none, .none)
        answer.age = nil
        return answer
    }

    var isAnswered: Bool { response.withLock { $0 != nil } }
}

struct NoAnswer: Error {
    let seconds: Double
}

/// An upstream that answers from a script, or holds calls until the test releases them, and
/// records every request. Answers arrive on the caller's loop, later, as libcurl's do.
final class ScriptedUpstream: UpstreamTransport, @unchecked Sendable {
    typealias Script = @Sendable (UpstreamRequest) -> Result<UpstreamResponse, UpstreamFailure>
    private struct Held: @unchecked Sendable {
        let request: UpstreamRequest
        let call: UpstreamCall
    }
    private struct State {
        var script: Script = { _ in .failure(.unreachable("no script")) }
        var holding = false
        var held: [Held] = []
        var requests: [UpstreamRequest] = []
        var cancelled = 0
    }
    private let state = Locked(State())
    let stats = UpstreamStats()
    var inFlight: Int { state.withLock { $0.held.count } }

    func answer(_ script: @escaping Script) { state.withLock { $0.script = script } }
    /// From now on calls wait for `release()`.
    func hold() { state.withLock { $0.holding = true } }
    var requests: [UpstreamRequest] { state.withLock { $0.requests } }
    var cancelled: Int { state.withLock { $0.cancelled } }
    var heldCount: Int { state.withLock { $0.held.count } }

    func send(
        _ request: UpstreamRequest, idempotent: Bool, admission: Admission, on loop: EventLoop, timeout: Double?,
        completion: @escaping (Result<UpstreamResponse, UpstreamFailure>) -> Void
    ) -> UpstreamCall {
        let call = UpstreamCall(loop: loop, completion: completion)
        let (holding, script) = state.withLock { state in
            state.requests.append(request)
            return (state.holding, state.script)
        }
        if holding {
            state.withLock { $0.held.append(Held(request: request, call: call)) }
            // Cancelling answers the call `.cancelled`; the upstream only forgets it.
            call.startRunning { [self] in
                state.withLock { state in
                    state.cancelled += 1
                    state.held.removeAll { $0.call === call }
                }
            }
            return call
        }
        let box = UncheckedBox(call)
        loop.execute { box.value.finish(script(request)) }
        return call
    }

    /// Answers every held call from the script, each on its own loop; calls stop being held.
    func release() {
        let (held, script) = state.withLock { state in
            defer {
                state.held = []
                state.holding = false
            }
            return (state.held, state.script)
        }
        for call in held {
            let box = UncheckedBox(call)
            call.call.loop.execute {
                box.value.call.finish(script(box.value.request))
            }
        }
    }
}

/// Carries a loop-confined value into `EventLoop.execute`, which runs it on that same loop.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
