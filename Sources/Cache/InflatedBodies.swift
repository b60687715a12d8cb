import Locking

/// A small, byte-bounded set of inflated bodies for entries hit by clients that do not accept
/// gzip, so a hot entry is inflated once rather than on every hit. Entries stay stored
/// compressed (that is the cache budget); this is a fixed extra of at most `budget` bytes.
/// Replacement is random (dictionary order): cheap, and good enough for a hot set.
public final class InflatedBodies: Sendable {
    private struct Key: Hashable {
        let entry: ObjectIdentifier
        let engagementView: Bool
    }

    private struct State {
        /// The entry is retained so its identifier cannot be reused while its body is held.
        var bodies: [Key: (entry: CachedResponse, body: [UInt8])] = [:]
        var bytes = 0
    }

    private let state = Locked(State())
    public let budget: Int

    public init(budget: Int) { self.budget = budget }

    public func body(of entry: CachedResponse, engagementView: Bool, inflate: () -> [UInt8]) -> [UInt8] {
        let key = Key(entry: ObjectIdentifier(entry), engagementView: engagementView)
        if let held = state.withLock({ $0.bodies[key]?.body }) { return held }
        let body = inflate()
        guard body.count <= budget / 16 else { return body }
        state.withLock { state in
            guard state.bodies[key] == nil else { return }
            while state.bytes + body.count > budget, let victim = state.bodies.first {
                state.bytes -= victim.value.body.count
                state.bodies[victim.key] = nil
            }
            state.bodies[key] = (entry, body)
            state.bytes += body.count
        }
        return body
    }

    public var bytes: Int { state.withLock { $0.bytes } }
}
