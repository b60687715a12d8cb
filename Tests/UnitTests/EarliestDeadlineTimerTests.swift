import XCTest

@testable import EventLoop

/// The one-timer-for-many-deadlines helper against a scheduler whose clock the test moves.
final class EarliestDeadlineTimerTests: XCTestCase {
    final class FakeScheduler: DeadlineScheduling {
        var currentTime: UInt64 = 0
        var timers = LoopTimers()
        var scheduled = 0

        func schedule(after nanoseconds: UInt64, _ task: @escaping () -> Void) -> LoopTimers.ID {
            scheduled += 1
            return timers.add(deadline: currentTime &+ nanoseconds, task)
        }

        func cancel(_ timer: LoopTimers.ID) { timers.remove(timer) }

        /// Moves the clock to `time` and runs what is due, as a loop turn would.
        func advance(to time: UInt64) {
            currentTime = time
            while let task = timers.popDue(now: time) { task() }
        }
    }

    /// A timer whose `onFire` records when it fired and answers the earliest of `deadlines` still
    /// ahead (dropping those due), as an owner with a queue of deadlines would.
    func timer(_ scheduler: FakeScheduler, deadlines: [UInt64] = []) -> (EarliestDeadlineTimer, () -> [UInt64]) {
        var remaining = deadlines
        var fired: [UInt64] = []
        let timer = EarliestDeadlineTimer(scheduler: scheduler) { now in
            fired.append(now)
            remaining.removeAll { $0 <= now }
            return remaining.min()
        }
        return (timer, { fired })
    }

    func testOneLoopTimerAtTheEarliestDeadline() {
        let scheduler = FakeScheduler()
        let (timer, fired) = timer(scheduler)
        timer.arm(at: 300)
        timer.arm(at: 500)
        timer.arm(at: 400)
        XCTAssertEqual(timer.deadline, 300)
        XCTAssertEqual(scheduler.timers.count, 1)
        XCTAssertEqual(scheduler.scheduled, 1, "later deadlines wait for the next fire")
        timer.arm(at: 100)
        XCTAssertEqual(timer.deadline, 100)
        XCTAssertEqual(scheduler.timers.count, 1, "the later timer was cancelled")
        scheduler.advance(to: 99)
        XCTAssertEqual(fired(), [])
        scheduler.advance(to: 100)
        XCTAssertEqual(fired(), [100])
        XCTAssertNil(timer.deadline, "onFire asked for nothing more")
        XCTAssertEqual(scheduler.timers.count, 0)
    }

    func testReArmsAtTheNextDeadlineOnFireAnswers() {
        let scheduler = FakeScheduler()
        let (timer, fired) = timer(scheduler, deadlines: [100, 250, 400])
        timer.arm(at: 100)
        scheduler.advance(to: 120)  // a late fire: the loop was busy
        XCTAssertEqual(fired(), [120])
        XCTAssertEqual(timer.deadline, 250)
        scheduler.advance(to: 1_000)
        XCTAssertEqual(fired(), [120, 1_000], "both remaining deadlines are due at once: one fire")
        XCTAssertNil(timer.deadline)
    }

    func testAPassedDeadlineFiresOnTheNextTurn() {
        let scheduler = FakeScheduler()
        scheduler.currentTime = 500
        let (timer, fired) = timer(scheduler)
        timer.arm(at: 200)
        scheduler.advance(to: 500)
        XCTAssertEqual(fired(), [500])
    }

    func testCancelForgetsTheLoopTimer() {
        let scheduler = FakeScheduler()
        let (timer, fired) = timer(scheduler)
        timer.arm(at: 100)
        timer.cancel()
        XCTAssertNil(timer.deadline)
        XCTAssertEqual(scheduler.timers.count, 0)
        scheduler.advance(to: 1_000)
        XCTAssertEqual(fired(), [])
        timer.cancel()  // twice is harmless
        timer.arm(at: 2_000)
        scheduler.advance(to: 2_000)
        XCTAssertEqual(fired(), [2_000])
    }

    func testArmingFromInsideOnFireKeepsTheEarliest() {
        let scheduler = FakeScheduler()
        var timer: EarliestDeadlineTimer!
        var fired: [UInt64] = []
        timer = EarliestDeadlineTimer(scheduler: scheduler) { now in
            fired.append(now)
            if now == 100 { timer.arm(at: 300) }  // an owner's completion sends another command
            return now == 100 ? 200 : nil
        }
        timer.arm(at: 100)
        scheduler.advance(to: 100)
        XCTAssertEqual(timer.deadline, 200)
        XCTAssertEqual(scheduler.timers.count, 1)
        scheduler.advance(to: 200)
        XCTAssertEqual(fired, [100, 200])
    }

    /// The timer holds its owner's callback, not the other way round: dropping it cancels nothing
    /// on its own, but a fire after it is gone does nothing.
    func testAFireAfterTheTimerIsGoneIsHarmless() {
        let scheduler = FakeScheduler()
        var fired = 0
        var timer: EarliestDeadlineTimer? = EarliestDeadlineTimer(scheduler: scheduler) { _ in
            fired += 1
            return nil
        }
        timer?.arm(at: 100)
        timer = nil
        scheduler.advance(to: 100)
        XCTAssertEqual(fired, 0)
    }
}
