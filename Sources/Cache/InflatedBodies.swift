import Locking

/// A small, byte-bounded set of inflated bodies for entries hit by clients that do not accept
/// gzip, so a hot entry is inflated once rather than on every hit. Entries stay stored
/// compressed (that is the cache budget); this is a fixed extra of at most `budget` bytes.
///
/// Direct-mapped: an entry's place follows from its address, so a lookup is one index and one
/// identity compare (no hashing), and a newcomer replaces whatever held its place. Good enough
/// for a hot set, and cheap on every identity hit.
public final class InflatedBodies: Sendable {
    private struct Held {
        /// Retained, so its address cannot be reused while its body is held.
        let entry: CachedResponse
        let engagementView: Bool
        let body: [UInt8]
    }

    private struct State {
        var places: [Held?]
        var bytes = 0
    }

    private let state: Locked<State>
    private let mask: Int
    public let budget: Int

    /// About one place per KiB of budget (bodies are a few KiB), a power of two in 64...65,536.
    public init(budget: Int) {
        self.budget = budget
        var places = 64
        while places < min(65_536, budget / 1024) { places *= 2 }
        mask = places - 1
        state = Locked(State(places: Array(repeating: nil, count: places)))
    }

    public func body(of entry: CachedResponse, engagementView: Bool, inflate: () -> [UInt8]) -> [UInt8] {
        let place = self.place(of: entry, engagementView: engagementView)
        let held = state.withLock { state -> [UInt8]? in
            guard let held = state.places[place], held.entry === entry, held.engagementView == engagementView else {
                return nil
            }
            return held.body
        }
        if let held { return held }
        let body = inflate()
        guard body.count <= budget / 16 else { return body }
        state.withLock { state in
            state.bytes -= state.places[place]?.body.count ?? 0
            state.places[place] = nil
            // Over budget: the places after this one give theirs up (ends: every place empty fits).
            var victim = place
            while state.bytes + body.count > budget {
                victim = (victim + 1) & mask
                state.bytes -= state.places[victim]?.body.count ?? 0
                state.places[victim] = nil
            }
            state.places[place] = Held(entry: entry, engagementView: engagementView, body: body)
            state.bytes += body.count
        }
        return body
    }

    public var bytes: Int { state.withLock { $0.bytes } }

    /// Address bits above the allocator's 16-byte alignment, mixed (Fibonacci hashing); a body's
    /// two views sit side by side.
    private func place(of entry: CachedResponse, engagementView: Bool) -> Int {
        let address = UInt(bitPattern: Unmanaged.passUnretained(entry).toOpaque())
        let mixed = (address >> 4) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: mixed >> 40) & mask & ~1 | (engagementView ? 1 : 0)
    }
}
