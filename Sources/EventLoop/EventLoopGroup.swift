import Foundation

/// A fixed set of event loops, one thread each (one per core by default).
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]

    public init(threads: Int) throws(Errno) {
        var loops: [EventLoop] = []
        for _ in 0..<max(1, threads) { loops.append(try EventLoop()) }
        self.loops = loops
        for (index, loop) in loops.enumerated() {
            let thread = Thread { loop.run() }
            thread.name = "studiogate-loop-\(index)"
            thread.start()
        }
    }

    public func shutdown() {
        for loop in loops { loop.stop() }
    }
}
