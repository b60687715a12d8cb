import Locking

/// Joins identical concurrent misses: the first caller for a key does the work, later callers
/// wait for its result (success or failure alike). Results are never kept after delivery. When
/// every caller of a key has left (their clients went away), the work is cancelled.
public final class Coalescer<Result: Sendable>: Sendable {
    public typealias Waiter = @Sendable (Result) -> Void

    /// What `join` returns: whether this caller leads (and must `complete`), and its place to `leave`.
    public struct Membership: Sendable {
        public let isLeader: Bool
        let ticket: UInt64
    }

    private struct Group {
        var waiters: [(ticket: UInt64, waiter: Waiter)] = []
        var cancel: (@Sendable () -> Void)? = nil
    }

    private struct State {
        var groups: [String: Group] = [:]
        var nextTicket: UInt64 = 0
    }

    private let state = Locked(State())

    public init() {}

    /// Registers `waiter` under `key`.
    public func join(_ key: String, _ waiter: @escaping Waiter) -> Membership {
        state.withLock { state in
            state.nextTicket &+= 1
            let ticket = state.nextTicket
            let isLeader = state.groups[key] == nil
            state.groups[key, default: Group()].waiters.append((ticket, waiter))
            return Membership(isLeader: isLeader, ticket: ticket)
        }
    }

    /// The leader says how to stop the shared work if everyone leaves.
    public func onAbandoned(_ key: String, cancel: @escaping @Sendable () -> Void) {
        state.withLock { state in state.groups[key]?.cancel = cancel }
    }

    /// A caller no longer wants the result. The last one out cancels the work; its result then
    /// finds nobody to deliver to. False when the result is already on its way to this caller.
    @discardableResult
    public func leave(_ key: String, _ membership: Membership) -> Bool {
        let (left, cancel): (Bool, (@Sendable () -> Void)?) = state.withLock { state in
            guard var group = state.groups[key],
                let index = group.waiters.firstIndex(where: { $0.ticket == membership.ticket })
            else {
                return (false, nil)
            }
            group.waiters.remove(at: index)
            if !group.waiters.isEmpty {
                state.groups[key] = group
                return (true, nil)
            }
            state.groups[key] = nil
            return (true, group.cancel)
        }
        cancel?()
        return left
    }

    /// Delivers `result` to everyone who joined `key` and is still there, leader included.
    public func complete(_ key: String, with result: Result) {
        let waiters = state.withLock { $0.groups.removeValue(forKey: key) }?.waiters ?? []
        for (_, waiter) in waiters { waiter(result) }
    }
}
