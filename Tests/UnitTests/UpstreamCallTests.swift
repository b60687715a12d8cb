import HTTP
import XCTest

@testable import EventLoop
@testable import TestSupport
@testable import Upstream

/// An upstream call's stages without a running loop: the test is the loop's thread, moves the
/// call on as `UpstreamService` does, and records what cancelling took out of the queue and timers.
final class UpstreamCallTests: XCTestCase {
    /// The loop's queue and timers, as the call sees them.
    final class RecordedWaits: UpstreamCallWaits {
        var withdrawn: [ConcurrencyLimiter.Ticket] = []
        var cancelledTimers: [LoopTimers.ID] = []
        func withdraw(_ ticket: ConcurrencyLimiter.Ticket) { withdrawn.append(ticket) }
        func cancelBackoff(_ timer: LoopTimers.ID) { cancelledTimers.append(timer) }
    }

    var loop: EventLoop!
    var waits: RecordedWaits!
    var answers: [Result<UpstreamResponse, UpstreamFailure>] = []
    let ok = UpstreamResponse(status: 200, headers: HTTPHeaders(), body: [])

    override func setUpWithError() throws {
        loop = try EventLoop()  // never run: it only names the call's thread
        waits = RecordedWaits()
        answers = []
    }

    func makeCall() -> UpstreamCall {
        UpstreamCall(loop: loop, waits: waits) { [unowned self] in answers.append($0) }
    }

    func timer() -> LoopTimers.ID {
        var timers = LoopTimers()
        return timers.add(deadline: 1) {}
    }

    var answeredCancelled: Bool { answers.count == 1 && answers.first?.failure == .cancelled }

    func testCancelWhileQueuedWithdrawsTheTicket() {
        let call = makeCall()
        let ticket = ConcurrencyLimiter.Ticket(number: 7)
        call.enterQueue(ticket)
        XCTAssertEqual(call.stage.name, "queued")
        call.cancelOnLoop()
        XCTAssertEqual(waits.withdrawn, [ticket])
        XCTAssertTrue(answeredCancelled)
        XCTAssertEqual(call.stage.name, "done")
    }

    /// As a curl transfer does: stopping it answers `.cancelled` through the call's `finish`.
    func testCancelWhileRunningStopsTheAttemptOnceAndAnswersOnce() {
        let call = makeCall()
        var stops = 0
        call.startRunning {
            stops += 1
            call.attemptEnded()
            call.finish(.failure(.cancelled))
        }
        XCTAssertEqual(call.stage.name, "running")
        call.cancelOnLoop()
        call.cancelOnLoop()
        XCTAssertEqual(stops, 1)
        XCTAssertTrue(answeredCancelled)
        XCTAssertEqual(call.stage.name, "done")
    }

    func testCancelWhileRunningAnswersEvenIfTheStoppedAttemptDoesNot() {
        let call = makeCall()
        var stops = 0
        call.startRunning { stops += 1 }
        call.cancelOnLoop()
        XCTAssertEqual(stops, 1)
        XCTAssertTrue(answeredCancelled)
        call.finish(.success(ok))
        XCTAssertEqual(answers.count, 1, "a late answer finds the call done")
    }

    func testCancelWhileBackingOffCancelsTheTimer() {
        let call = makeCall()
        call.startRunning {}
        call.attemptEnded()
        let retry = timer()
        call.startBackoff(retry)
        XCTAssertEqual(call.stage.name, "backingOff")
        call.cancelOnLoop()
        XCTAssertEqual(waits.cancelledTimers, [retry])
        XCTAssertTrue(answeredCancelled)
    }

    func testCancelAfterTheAnswerDoesNothing() {
        let call = makeCall()
        var stops = 0
        call.startRunning { stops += 1 }
        call.attemptEnded()
        call.finish(.success(ok))
        call.cancelOnLoop()
        XCTAssertEqual(stops, 0)
        XCTAssertEqual(waits.withdrawn, [])
        XCTAssertEqual(answers.count, 1)
        XCTAssertEqual(try answers.first?.get().status, 200)
    }

    /// Nothing to stop before the first stage; `UpstreamService` checks `isCancelled` before it sends.
    func testCancelWhileIdleIsOnlyNoted() {
        let call = makeCall()
        call.cancelOnLoop()
        XCTAssertTrue(call.isCancelled)
        XCTAssertEqual(answers.count, 0)
        XCTAssertEqual(call.stage.name, "idle")
    }

    func testAQueueTimeoutAnswersOnceAndLeavesNothingToWithdraw() {
        let call = makeCall()
        call.enterQueue(ConcurrencyLimiter.Ticket(number: 1))
        call.finish(.failure(.overloaded))
        call.cancelOnLoop()
        XCTAssertEqual(waits.withdrawn, [])
        XCTAssertEqual(answers.map(\.failure), [.overloaded])
    }

    /// A transfer that fails before it is under way answers inside the attempt, before the service
    /// can say the call is running: it stays done, and a cancel stops nothing.
    func testAnAnswerInsideTheAttemptLeavesTheCallDone() {
        let call = makeCall()
        call.enterQueue(ConcurrencyLimiter.Ticket(number: 1))
        call.leaveQueue()
        call.finish(.failure(.unreachable("refused at once")))  // inside the attempt
        var stops = 0
        call.startRunning { stops += 1 }
        XCTAssertEqual(call.stage.name, "done")
        call.cancelOnLoop()
        XCTAssertEqual(stops, 0)
        XCTAssertEqual(answers.map(\.failure), [.unreachable("refused at once")])
    }

    func testARetryStartedInsideTheAttemptKeepsItsBackoff() {
        let call = makeCall()
        let retry = timer()
        call.attemptEnded()
        call.startBackoff(retry)  // inside the attempt: a connection refused at once is retried
        call.startRunning {}
        XCTAssertEqual(call.stage.name, "backingOff")
        call.cancelOnLoop()
        XCTAssertEqual(waits.cancelledTimers, [retry], "the retry is what cancelling stops")
        XCTAssertTrue(answeredCancelled)
    }

    func testARetryGoesBackThroughTheStages() {
        let call = makeCall()
        call.startRunning {}
        call.attemptEnded()
        call.startBackoff(timer())
        call.endBackoff()
        XCTAssertEqual(call.stage.name, "idle")
        call.enterQueue(ConcurrencyLimiter.Ticket(number: 2))
        call.leaveQueue()
        call.startRunning {}
        XCTAssertEqual(call.stage.name, "running")
        call.attemptEnded()
        call.finish(.success(ok))
        XCTAssertEqual(call.stage.name, "done")
        XCTAssertEqual(answers.count, 1)
    }
}

extension UpstreamCall.Stage {
    var name: String {
        switch self {
        case .idle: "idle"
        case .queued: "queued"
        case .running: "running"
        case .backingOff: "backingOff"
        case .done: "done"
        }
    }
}
