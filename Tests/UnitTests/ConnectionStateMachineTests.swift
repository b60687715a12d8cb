import EventLoop
import HTTP
import XCTest

@testable import HTTPServer
@testable import TestSupport

/// The connection's HTTP rules without sockets: `ConnectionDriver` feeds the machine events and
/// carries out its actions the way `Connection` does; the clock is the test's.
final class ConnectionStateMachineTests: XCTestCase {
    func get(_ target: String, _ version: String = "HTTP/1.1", headers: String = "Host: x\r\n") -> String {
        "GET \(target) \(version)\r\n\(headers)\r\n"
    }

    // MARK: requests and answers

    func testKeepAliveAnswersRequestsOneAfterAnotherOnOneConnection() {
        var driver = ConnectionDriver()
        for index in 0..<3 {
            driver.receive(get("/n/\(index)"))
            XCTAssertEqual(driver.dispatched.last?.request.target, "/n/\(index)")
            XCTAssertEqual(driver.dispatched.last?.id, UInt64(index + 1))
            XCTAssertEqual(driver.machine.state.name, "awaitingResponse")
            XCTAssertTrue(driver.respond(UInt64(index + 1), "answer \(index)"))
            let sent = driver.takeSent()
            XCTAssertTrue(sent.hasPrefix("HTTP/1.1 200 OK\r\n"), sent)
            XCTAssertTrue(sent.contains("Date: \(ConnectionDriver.date)\r\n"), sent)
            XCTAssertFalse(sent.contains("Connection:"), "HTTP/1.1 keeps the connection without saying so")
            XCTAssertTrue(sent.hasSuffix("\r\n\r\nanswer \(index)"), sent)
            XCTAssertEqual(driver.machine.state.name, "reading")
            XCTAssertEqual(driver.machine.interest, [.readable, .hangup])
        }
        XCTAssertNil(driver.closed)
        XCTAssertFalse(driver.halfClosed)
    }

    func testPipelinedRequestsAreTakenOneAtATimeAndAnsweredInOrder() {
        var driver = ConnectionDriver()
        driver.receive(
            get("/1") + get("/2") + "POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" + get("/4"))
        XCTAssertEqual(driver.dispatched.map(\.request.target), ["/1"], "the next waits until this one is answered")
        XCTAssertTrue(driver.machine.interest.contains(.readable), "more may be read while answering")
        driver.respond(1, "one")
        XCTAssertEqual(driver.dispatched.map(\.request.target), ["/1", "/2"])
        driver.respond(2, "two")
        XCTAssertEqual(driver.dispatched.last?.request.body, Array("hi".utf8))
        driver.respond(3, "three")
        driver.respond(4, "four")
        XCTAssertEqual(driver.dispatched.map(\.request.target), ["/1", "/2", "/3", "/4"])
        XCTAssertEqual(
            driver.responses.map { $0.components(separatedBy: "\r\n\r\n").last }, ["one", "two", "three", "four"])
    }

    /// A reply given inside `handle` is queued, sent once `handle` returns, and only then is the
    /// next pipelined request taken: the handler is never called from inside itself.
    func testAReplyFromInsideHandleIsSentWhenHandleReturnsBeforeTheNextRequest() {
        var machine = ConnectionDriver().machine
        let first = Array((get("/a") + get("/b")).utf8).withUnsafeBytes { machine.bytesRead($0, now: 0) }
        guard case .dispatch(let request, let id) = first else { return XCTFail("\(first)") }
        XCTAssertEqual(request.target, "/a")
        let inside = machine.replyDelivered(
            .response(HTTPResponse(status: 200, text: "a")), requestID: id, date: ConnectionDriver.date)
        guard case .wait? = inside else { return XCTFail("\(String(describing: inside))") }
        XCTAssertTrue(machine.output.hasUnsentBytes)
        XCTAssertNil(
            machine.replyDelivered(.response(HTTPResponse(status: 500)), requestID: id, date: ConnectionDriver.date),
            "only the first reply counts")
        guard case .write = machine.handlerReturned(now: 0) else { return XCTFail("the answer goes out first") }
        let next = machine.wrote(machine.output.unsentCount, now: 0)
        guard case .dispatch(let second, 2) = next else { return XCTFail("\(next)") }
        XCTAssertEqual(second.target, "/b")
    }

    func testAnswersGivenInsideHandleKeepTheConnectionGoing() {
        var driver = ConnectionDriver()
        driver.answerInsideHandle = { .response(HTTPResponse(status: 200, text: "at once " + $0.target)) }
        driver.receive(get("/1") + get("/2") + get("/3"))
        XCTAssertEqual(driver.dispatched.map(\.id), [1, 2, 3])
        XCTAssertEqual(
            driver.responses.map { $0.components(separatedBy: "\r\n\r\n").last },
            ["at once /1", "at once /2", "at once /3"])
        XCTAssertEqual(driver.machine.state.name, "reading")
    }

    func testHTTP10KeepAliveIsAnnouncedAndPlainHTTP10Closes() {
        var driver = ConnectionDriver()
        driver.receive(get("/old", "HTTP/1.0", headers: "Connection: keep-alive\r\n"))
        driver.respond(1, "kept")
        XCTAssertTrue(driver.takeSent().contains("\r\nConnection: keep-alive\r\n"))
        XCTAssertEqual(driver.machine.state.name, "reading")
        driver.receive(get("/last", "HTTP/1.0", headers: ""))
        driver.respond(2, "last")
        XCTAssertTrue(driver.takeSent().contains("\r\nConnection: close\r\n"))
        XCTAssertTrue(driver.halfClosed, "lingering close: the client reads the answer, not a reset")
        XCTAssertEqual(driver.machine.state.name, "lingering")
        XCTAssertEqual(driver.machine.interest, [.readable, .hangup])
    }

    func testConnectionCloseIsHonouredAfterTheAnswer() {
        var driver = ConnectionDriver()
        driver.receive(get("/g", headers: "Host: x\r\nConnection: close\r\n") + get("/never"))
        driver.respond(1, "bye")
        XCTAssertTrue(driver.takeSent().contains("\r\nConnection: close\r\n"))
        XCTAssertEqual(driver.dispatched.count, 1, "nothing after a request that closes")
        XCTAssertTrue(driver.halfClosed)
        driver.clientCloses()
        XCTAssertEqual(driver.closed, .finished)
    }

    func testHeadGetsTheLengthButNoBody() {
        var driver = ConnectionDriver()
        driver.receive("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
        driver.respond(1, "12345")
        let sent = driver.takeSent()
        XCTAssertTrue(sent.contains("\r\nContent-Length: 5\r\n"), sent)
        XCTAssertTrue(sent.hasSuffix("\r\n\r\n"), "no body: \(sent)")
        XCTAssertEqual(driver.machine.state.name, "reading")
    }

    /// The 100 Continue is queued when the head arrives and goes out when the socket is writable;
    /// the request is dispatched once its body has arrived.
    func testExpectContinueGetsA100BeforeTheBody() {
        var driver = ConnectionDriver()
        driver.receive("POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertTrue(driver.dispatched.isEmpty)
        XCTAssertEqual(driver.machine.interest, [.readable, .writable, .hangup])
        driver.clientReads()
        XCTAssertEqual(driver.takeSent(), "HTTP/1.1 100 Continue\r\n\r\n")
        driver.receive("body")
        XCTAssertEqual(driver.dispatched.first?.request.body, Array("body".utf8))
        driver.respond(1, "got it")
        XCTAssertTrue(driver.takeSent().hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    func testAResetReplyResetsTheConnection() {
        var driver = ConnectionDriver()
        driver.receive(get("/reset"))
        XCTAssertTrue(driver.reply(1, .resetConnection))
        XCTAssertTrue(driver.wasReset)
        XCTAssertEqual(driver.sent, [])
        XCTAssertTrue(driver.machine.isClosed)

        var inside = ConnectionDriver()
        inside.answerInsideHandle = { _ in .resetConnection }
        inside.receive(get("/reset") + get("/never"))
        XCTAssertTrue(inside.wasReset)
        XCTAssertEqual(inside.dispatched.count, 1)
    }

    func testARawReplyIsSentAsIsThenTheConnectionCloses() {
        var driver = ConnectionDriver()
        driver.receive(get("/raw"))
        driver.reply(1, .raw(Array("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\ntrunc".utf8)))
        XCTAssertEqual(driver.takeSent(), "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\ntrunc")
        XCTAssertTrue(driver.halfClosed)
    }

    func testAStaleReplyForAnEarlierRequestIsIgnored() {
        var driver = ConnectionDriver()
        driver.receive(get("/1") + get("/2"))
        XCTAssertTrue(driver.respond(1, "one"))
        _ = driver.takeSent()
        XCTAssertFalse(driver.respond(1, "one again"), "request 1 was answered already")
        XCTAssertFalse(driver.respond(7, "never asked"))
        XCTAssertEqual(driver.sent, [])
        XCTAssertTrue(driver.machine.isAnswering(2))
        XCTAssertFalse(driver.machine.isAnswering(1))
        XCTAssertTrue(driver.respond(2, "two"))
        XCTAssertTrue(driver.takeSent().hasSuffix("two"))
    }

    // MARK: the client going away

    func testEndOfInputWhileAnsweringNotifiesAndTheAnswerStillGoesOut() {
        var driver = ConnectionDriver()
        driver.receive(get("/slow"))
        driver.clientCloses()
        XCTAssertEqual(driver.clientGoneNotifications, 1)
        XCTAssertNil(driver.closed, "a half-closed client may still read its answer")
        XCTAssertEqual(driver.machine.interest, [], "neither reads nor RDHUP once the input ended")
        driver.respond(1, "late")
        XCTAssertTrue(driver.takeSent().contains("\r\nConnection: close\r\n"))
        XCTAssertFalse(driver.halfClosed, "nothing to drain: the client already closed its side")
        XCTAssertEqual(driver.closed, .finished)
    }

    func testEndOfInputBetweenOrInTheMiddleOfRequestsCloses() {
        var between = ConnectionDriver()
        between.receive(get("/1"))
        between.respond(1, "one")
        between.clientCloses()
        XCTAssertEqual(between.closed, .clientClosed)
        XCTAssertEqual(between.clientGoneNotifications, 0)

        var midway = ConnectionDriver()
        midway.receive("GET /half HTTP/1.1\r\nHo")
        midway.clientCloses()
        XCTAssertEqual(midway.closed, .clientClosed)
        XCTAssertEqual(midway.sent, [])
    }

    func testReadFailureCloses() {
        var driver = ConnectionDriver()
        guard case .close(.readFailed) = driver.machine.readFailed() else { return XCTFail() }
        XCTAssertTrue(driver.machine.isClosed)
        guard case .wait = driver.machine.readFailed() else { return XCTFail("closes once") }
        guard case .wait = driver.machine.loopStopped() else { return XCTFail("closes once") }
    }

    func testWriteFailureCloses() {
        var machine = ConnectionDriver().machine
        _ = Array(get("/1").utf8).withUnsafeBytes { machine.bytesRead($0, now: 0) }
        _ = machine.handlerReturned(now: 0)
        guard case .write? = machine.replyDelivered(.response(HTTPResponse(status: 204)), requestID: 1, date: "")
        else { return XCTFail() }
        guard case .close(.writeFailed) = machine.writeFailed() else { return XCTFail() }
    }

    // MARK: unreadable requests

    func testAnUnreadableRequestIsAnsweredThenClosedLingering() {
        var driver = ConnectionDriver()
        driver.receive("GARBAGE\r\n\r\n" + get("/smuggled"))
        XCTAssertEqual(driver.failures.map(\.status), [400])
        XCTAssertTrue(driver.dispatched.isEmpty, "nothing behind an unreadable request is taken")
        let sent = driver.takeSent()
        XCTAssertTrue(sent.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), sent)
        XCTAssertTrue(sent.contains("\r\nConnection: close\r\n"))
        XCTAssertTrue(driver.halfClosed)
        XCTAssertEqual(driver.machine.state.name, "lingering")
        driver.receive(get("/ignored"))
        XCTAssertTrue(driver.dispatched.isEmpty, "lingering only drains")
        driver.clientCloses()
        XCTAssertEqual(driver.closed, .finished)
    }

    func testLingeringEndsAfterTheLingerTimeout() {
        var driver = ConnectionDriver { $0.lingerTimeout = 2 }
        driver.receive("GARBAGE\r\n\r\n")
        XCTAssertTrue(driver.halfClosed)
        driver.advance(to: 1.9)
        XCTAssertNil(driver.closed)
        driver.advance(to: 2)
        XCTAssertEqual(driver.closed, .writeTimeout)
    }

    // MARK: backpressure

    func testReadingPausesWhileTooMuchInputWaitsBehindTheCurrentRequest() {
        var driver = ConnectionDriver { $0.maxBufferedWhileBusy = 100 }
        driver.receive(get("/slow"))
        XCTAssertTrue(driver.machine.interest.contains(.readable))
        driver.receive(String(repeating: get("/p"), count: 4))  // 4 × 28 bytes
        XCTAssertEqual(driver.machine.interest, [.hangup], "over the cap: the rest waits in the kernel")
        driver.respond(1, "done")
        XCTAssertEqual(driver.dispatched.count, 2)
        XCTAssertTrue(driver.machine.interest.contains(.readable), "under the cap again")
    }

    /// A client that pipelines and does not read: once more than `maxUnsentOutput` waits, no
    /// request is taken and reading stops; when it reads, the connection takes requests again.
    func testUnsentOutputOverTheCapHoldsRequestsUntilTheClientReads() {
        var driver = ConnectionDriver { $0.maxUnsentOutput = 1000 }
        driver.sendRoom = 0
        driver.receive(get("/big") + get("/next"))
        driver.respond(1, String(repeating: "b", count: 2000))
        XCTAssertEqual(driver.dispatched.count, 1, "the output is full: /next waits")
        XCTAssertEqual(driver.machine.interest, [.writable, .hangup], "and nothing more is read")
        XCTAssertGreaterThan(driver.machine.output.unsentCount, 2000)
        driver.clientReads(500)
        XCTAssertEqual(driver.dispatched.count, 1, "still over the cap")
        driver.clientReads(1000)
        XCTAssertEqual(driver.dispatched.map(\.request.target), ["/big", "/next"], "back under the cap")
        XCTAssertEqual(driver.machine.interest, [.readable, .writable, .hangup])
        driver.clientReads()
        driver.respond(2, "small")
        XCTAssertEqual(driver.responses.count, 2)
        XCTAssertTrue(driver.responses[0].hasSuffix("\r\n\r\n" + String(repeating: "b", count: 2000)))
        XCTAssertTrue(driver.responses[1].hasSuffix("\r\n\r\nsmall"))
        XCTAssertFalse(driver.machine.output.hasUnsentBytes)
    }

    // MARK: timeouts (the test's clock)

    func testAnIdleConnectionClosesAtTheIdleTimeout() {
        var driver = ConnectionDriver(at: 5) { $0.idleTimeout = 60 }
        XCTAssertEqual(driver.machine.deadline, ConnectionDriver.time(65))
        driver.advance(to: 64.9)
        XCTAssertNil(driver.closed)
        driver.advance(to: 65)
        XCTAssertEqual(driver.closed, .idleTimeout)
    }

    func testTheIdleTimeoutCountsFromTheLastWriteAndEmptyLinesDoNotMoveIt() {
        var driver = ConnectionDriver { $0.idleTimeout = 60 }
        driver.now = ConnectionDriver.time(10)
        driver.receive(get("/1"))
        driver.respond(1, "one")
        XCTAssertEqual(driver.machine.deadline, ConnectionDriver.time(70))
        driver.now = ConnectionDriver.time(40)
        driver.receive("\r\n")
        XCTAssertEqual(driver.machine.deadline, ConnectionDriver.time(70), "an empty line is not progress")
        driver.advance(to: 69)
        XCTAssertNil(driver.closed)
        driver.advance(to: 70)
        XCTAssertEqual(driver.closed, .idleTimeout)
    }

    func testARequestThatDoesNotArriveInTimeGets408() {
        var driver = ConnectionDriver {
            $0.headerTimeout = 10
            $0.idleTimeout = 60
        }
        driver.now = ConnectionDriver.time(1)
        driver.receive("GET /slow HTTP/1.1\r\nHost")
        XCTAssertEqual(driver.machine.deadline, ConnectionDriver.time(11))
        driver.now = ConnectionDriver.time(5)
        driver.receive(": x\r\n")
        XCTAssertEqual(driver.machine.deadline, ConnectionDriver.time(11), "counted from the first byte")
        driver.advance(to: 10.9)
        XCTAssertTrue(driver.failures.isEmpty)
        driver.advance(to: 11)
        XCTAssertEqual(driver.failures, [.requestTimeout])
        XCTAssertTrue(driver.takeSent().hasPrefix("HTTP/1.1 408 "))
        XCTAssertTrue(driver.halfClosed)
    }

    func testAnswersTheClientDoesNotReadTimeOut() {
        var driver = ConnectionDriver { $0.idleTimeout = 60 }
        driver.sendRoom = 0
        driver.now = ConnectionDriver.time(5)
        driver.receive(get("/1"))
        driver.respond(1, "unread")
        driver.advance(to: 59)
        XCTAssertNil(driver.closed)
        driver.advance(to: 60)
        XCTAssertEqual(driver.closed, .writeTimeout)
    }

    func testTheHandlerTakesTheTimeItNeedsButUnreadOutputWhileAnsweringTimesOut() {
        var patient = ConnectionDriver { $0.idleTimeout = 60 }
        patient.receive(get("/slow"))
        patient.advance(to: 600)
        XCTAssertNil(patient.closed, "no timeout while the handler works")
        patient.respond(1, "finally")
        XCTAssertTrue(patient.takeSent().hasSuffix("finally"))

        var stalled = ConnectionDriver { $0.idleTimeout = 60 }
        stalled.sendRoom = 0
        stalled.receive("POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
        XCTAssertEqual(stalled.dispatched.count, 1)
        stalled.advance(to: 60)
        XCTAssertEqual(stalled.closed, .writeTimeoutWhileAnswering, "the 100 Continue was never read")
    }

    func testStoppingTheLoopClosesOnce() {
        var machine = ConnectionDriver().machine
        guard case .close(.loopStopped) = machine.loopStopped() else { return XCTFail() }
        guard case .wait = machine.loopStopped() else { return XCTFail() }
        guard case .wait = machine.timerFired(now: .max) else { return XCTFail() }
    }
}
