import EventLoop
import HTTP

@testable import HTTPServer

/// Plays `Connection`'s part for a `ConnectionStateMachine` without a socket: carries out its
/// actions the way the shell does and records what the client and the handler would see. The
/// clock is `now`; the socket takes `sendRoom` bytes before a send would block.
struct ConnectionDriver {
    static let second: UInt64 = 1_000_000_000
    static let date = "Tue, 01 Dec 2026 00:00:00 GMT"

    var machine: ConnectionStateMachine
    var now: UInt64 = 0
    /// Bytes the client's side can still take before a send would block; nil: no limit.
    var sendRoom: Int? = nil
    /// When set, the handler answers each request from inside `handle`.
    var answerInsideHandle: ((HTTPRequest) -> HTTPReply)? = nil
    private(set) var sent: [UInt8] = []
    private(set) var dispatched: [(request: HTTPRequest, id: UInt64)] = []
    private(set) var failures: [HTTPParseError] = []
    private(set) var clientGoneNotifications = 0
    private(set) var halfClosed = false
    private(set) var closed: ConnectionCloseReason? = nil
    private(set) var wasReset = false

    init(at seconds: Double = 0, _ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) {
        var configuration = HTTPServerConfiguration(address: try! SocketAddress(parsing: "127.0.0.1:0"), threads: 1)
        configure(&configuration)
        now = Self.time(seconds)
        machine = ConnectionStateMachine(tuning: ConnectionTuning(configuration), now: now)
    }

    static func time(_ seconds: Double) -> UInt64 { UInt64(seconds * Double(second)) }

    var sentText: String { String(decoding: sent, as: UTF8.self) }

    /// What was sent since the last call.
    mutating func takeSent() -> String {
        defer { sent = [] }
        return sentText
    }

    /// The responses sent since the last `takeSent`, split at their status lines.
    var responses: [String] {
        sentText.components(separatedBy: "HTTP/1.1 ").dropFirst().map { "HTTP/1.1 " + $0 }
    }

    mutating func receive(_ text: String) {
        let action = Array(text.utf8).withUnsafeBytes { machine.bytesRead($0, now: now) }
        run(action)
    }

    mutating func clientCloses() { run(machine.inputEnded(now: now)) }

    /// Replies to request `id` from outside `handle`; false if the machine ignored the reply.
    @discardableResult
    mutating func reply(_ id: UInt64, _ reply: HTTPReply) -> Bool {
        guard let action = machine.replyDelivered(reply, requestID: id, date: Self.date) else { return false }
        run(action)
        return true
    }

    @discardableResult
    mutating func respond(_ id: UInt64, _ text: String, headers: HTTPHeaders = [:]) -> Bool {
        reply(id, .response(HTTPResponse(status: 200, headers: headers, text: text)))
    }

    /// The client reads `count` bytes (nil: all it can), making room, and the socket turns writable.
    mutating func clientReads(_ count: Int? = nil) {
        sendRoom = count.map { (sendRoom ?? 0) + $0 }
        run(machine.writable(now: now))
    }

    /// Moves the clock to `seconds` and lets the timer check the deadline.
    mutating func advance(to seconds: Double) {
        now = Self.time(seconds)
        run(machine.timerFired(now: now))
    }

    private mutating func run(_ first: ConnectionAction) {
        var action = first
        while true {
            switch action {
            case .wait:
                return
            case .dispatch(let request, let id):
                dispatched.append((request, id))
                if let answer = answerInsideHandle {
                    let inside = machine.replyDelivered(answer(request), requestID: id, date: Self.date)
                    if case .reset? = inside { wasReset = true }
                }
                action = machine.handlerReturned(now: now)
            case .answerFailure(let error):
                failures.append(error)
                let response = HTTPResponse(status: error.status, text: error.description)
                action = machine.failureAnswered(response, date: Self.date)
            case .write:
                action = write()
            case .notifyClientGone:
                clientGoneNotifications += 1
                action = machine.clientGoneNotified(now: now)
            case .halfClose:
                halfClosed = true
                action = .wait
            case .close(let reason):
                closed = reason
                return
            case .reset:
                wasReset = true
                return
            }
        }
    }

    private mutating func write() -> ConnectionAction {
        let room = sendRoom ?? Int.max
        if room == 0 { return machine.writeWouldBlock(now: now) }
        let taken = machine.output.withUnsentBytes { head, body in Array((Array(head) + Array(body)).prefix(room)) }
        sent += taken
        if let left = sendRoom { sendRoom = left - taken.count }
        return machine.wrote(taken.count, now: now)
    }
}

extension ConnectionStateMachine.State {
    var name: String {
        switch self {
        case .reading: "reading"
        case .handling: "handling"
        case .awaitingResponse: "awaitingResponse"
        case .closing: "closing"
        case .lingering: "lingering"
        case .closed: "closed"
        }
    }
}
