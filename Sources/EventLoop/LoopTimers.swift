/// One-shot tasks of an event loop, due at monotonic deadlines. A loop holds a handful (the
/// upstream engine's timer, retry back-offs), so a flat array scanned for the earliest is enough.
public struct LoopTimers {
    public struct ID: Hashable, Sendable {
        let value: UInt64
    }

    private var entries: [(deadline: UInt64, id: ID, task: () -> Void)] = []
    private var nextID: UInt64 = 0

    public init() {}

    public var count: Int { entries.count }

    mutating func add(deadline: UInt64, _ task: @escaping () -> Void) -> ID {
        nextID &+= 1
        let id = ID(value: nextID)
        entries.append((deadline, id, task))
        return id
    }

    mutating func remove(_ id: ID) {
        if let index = entries.firstIndex(where: { $0.id == id }) { entries.remove(at: index) }
    }

    /// How long epoll may sleep: until the earliest deadline, at most `atMost` ms, rounded up so
    /// the loop never wakes just before a deadline and spins.
    func millisecondsUntilNext(now: UInt64, atMost: Int32) -> Int32 {
        guard let earliest = entries.min(by: { $0.deadline < $1.deadline })?.deadline else { return atMost }
        guard earliest > now else { return 0 }
        return Int32(min(UInt64(atMost), (earliest - now + 999_999) / 1_000_000))
    }

    /// Removes and returns one task whose deadline has passed, earliest first.
    mutating func popDue(now: UInt64) -> (() -> Void)? {
        guard let index = entries.indices.min(by: { entries[$0].deadline < entries[$1].deadline }),
            entries[index].deadline <= now
        else { return nil }
        return entries.remove(at: index).task
    }
}
