// ThreadSanitizer and Synchronization.Mutex on Linux (Swift 6.3): two threads count inside
// Mutex.withLock; the count always comes out exact without TSan, yet TSan reports "Swift access
// race" and "data race" on the protected dictionary, because the lock's own synchronization happens
// in the uninstrumented stdlib. Reports in our code inside withLock closures are this, not races.
//   swiftc -O -sanitize=thread Tests/Sanitizers/tsan-mutex-repro.swift -o /tmp/repro && /tmp/repro
import Foundation
import Synchronization

final class Counts: Sendable { let byKey = Mutex<[Int: Int]>([:]) }
let counts = Counts()
let done = DispatchGroup()
for _ in 0..<2 {
    done.enter()
    Thread {
        for index in 0..<50_000 { counts.byKey.withLock { $0[index % 7, default: 0] += 1 } }
        done.leave()
    }.start()
}
done.wait()
print("counted", counts.byKey.withLock { $0.values.reduce(0, +) }, "of 100000")
