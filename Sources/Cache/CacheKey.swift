import HTTP
import Studio

/// What one write invalidates: every view of one execution (named by its `FN` SID), or one flow's
/// list pages (named by its `FW` SID). The prefix tells the two apart.
public struct CacheGroup: Hashable, Sendable, CustomStringConvertible {
    public let sid: SID

    public init(_ sid: SID) { self.sid = sid }

    /// `FN…` or `FW…/lists`, as in Redis keys and invalidation notices.
    public init?(_ description: String) {
        if description.hasSuffix("/lists") {
            guard let flow = SID(description.dropLast(6), prefix: "FW") else { return nil }
            sid = flow
        } else {
            guard let execution = SID(description, prefix: "FN") else { return nil }
            sid = execution
        }
    }

    public static func lists(flow: SID) -> CacheGroup { CacheGroup(flow) }

    /// The execution's SID when the group is one execution's (nil for a flow's list pages).
    public var execution: SID? { isExecution ? sid : nil }
    public var isExecution: Bool { sid.kindLetter == UInt8(ascii: "N") }
    public var description: String { isExecution ? sid.value : sid.value + "/lists" }
}

/// Where a response is stored: per account (the isolation rules), by canonical upstream path and sorted query.
/// `group` ties together what one write must invalidate.
///
/// A Studio path is kept as what it is made of (version, kind of resource, the flow's and step's
/// SIDs; the execution's is the group's) rather than as a string: a hundred thousand entries would
/// otherwise each carry a ~100-byte path in an allocation of its own. `resource` renders it back.
/// Anything else (never made by the gateway, only read back from old snapshots or tests) is kept
/// as its text.
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    public let account: String
    public let group: CacheGroup
    private let shape: Shape
    private let flow: SID?
    private let step: SID?
    /// The canonical query (`?a=1&b=2`, or empty) of a Studio path; the whole resource for text.
    private let extra: String
    /// Everything above mixed once, when the key is made: a hit hashes its key once, not per lookup.
    let digest: UInt64

    /// The kind of Studio resource and its API version, or text.
    private struct Shape: Equatable, Hashable {
        let bits: UInt8
        static let text = Shape(bits: 0)

        init(bits: UInt8) { self.bits = bits }

        /// Kinds 1...6 (0 is text; `.flowAdmin`, never cached, has no key).
        init(_ version: StudioRoute.Version, _ resource: StudioRoute.Resource) {
            precondition(resource != .flowAdmin, "flow admin paths are never cached")
            bits = UInt8(resource.ordinal + 1) | (version == .v1 ? 0x80 : 0)
        }

        var version: StudioRoute.Version { bits & 0x80 != 0 ? .v1 : .v2 }
        /// Not for `.text`.
        var resource: StudioRoute.Resource { StudioRoute.Resource.allCases[Int(bits & 0x7F) - 1] }
    }

    public init(account: String, resource: String, group: CacheGroup) {
        if let parsed = Self.parse(resource, group: group) {
            self.init(
                account: account, group: group, shape: parsed.shape, flow: parsed.flow, step: parsed.step,
                extra: parsed.query)
        } else {
            self.init(account: account, group: group, shape: .text, flow: nil, step: nil, extra: resource)
        }
    }

    public init?(account: String, route: StudioRoute, query: String) {
        guard let group = Self.group(of: route), route.resource != .flowAdmin else { return nil }
        self.init(
            account: account, group: group, shape: Shape(route.version, route.resource), flow: route.flow,
            step: route.step, extra: Self.canonicalQuery(query))
    }

    private init(account: String, group: CacheGroup, shape: Shape, flow: SID?, step: SID?, extra: String) {
        self.account = account
        self.group = group
        self.shape = shape
        self.flow = flow
        self.step = step
        self.extra = extra
        var state = KeyDigest.mix(account, into: KeyDigest.seed)
        state = KeyDigest.mix(
            words: (
                UInt64(shape.bits), group.sid.fingerprint, flow?.fingerprint ?? 0, step?.fingerprint ?? 0
            ), into: state)
        digest = KeyDigest.mix(extra, into: state)
    }

    /// A resource text that is a Studio path this key shape can hold, as its parts: only what the
    /// parts render back to exactly, so reading a key back never changes it; anything else stays text.
    private static func parse(_ resource: String, group: CacheGroup) -> (
        shape: Shape, flow: SID, step: SID?, query: String
    )? {
        let (path, query) = HTTPRequest.split(resource)
        guard case .route(let route) = StudioRouter.match(path: String(path)), !route.viaEngagements,
            route.resource != .flowAdmin, Self.group(of: route) == group, let flow = route.flow
        else { return nil }
        let extra = query.isEmpty ? "" : "?" + query
        let rendered = StudioRoute.executionsPath(
            route.version, route.resource, flow: flow, execution: group.execution, step: route.step)
        guard rendered + extra == resource else { return nil }
        return (Shape(route.version, route.resource), flow, route.step, extra)
    }

    /// The upstream path and canonical query (snapshots, the fleet's keys, the admin listing).
    /// The flow the resource is under (nil for text keys).
    public var flowSID: SID? { flow }

    public var resource: String {
        guard shape != .text, let flow else { return extra }
        return StudioRoute.executionsPath(
            shape.version, shape.resource, flow: flow, execution: group.execution, step: step) + extra
    }

    /// Bytes of the key held beyond its fixed size (the query, or a text resource).
    public var extraBytes: Int { extra.utf8.count }

    /// Executions-family routes only: flow admin paths are never cached.
    public static func group(of route: StudioRoute) -> CacheGroup? {
        guard let flow = route.flow else { return nil }
        switch route.resource {
        case .executionList: return .lists(flow: flow)
        case .flowAdmin: return nil
        default: return route.execution.map(CacheGroup.init)
        }
    }

    /// Sorted by name, re-encoded the same way, so `?b=2&a=1` and `?a=1&b=2` share an entry. The
    /// sort is stable: a repeated name keeps its order (`?PageSize=2&PageSize=3` is not
    /// `?PageSize=3&PageSize=2`: the upstream may read either occurrence).
    public static func canonicalQuery(_ query: String) -> String {
        if query.isEmpty { return "" }
        let pairs = FormURLEncoded.parse(query).enumerated()
            .sorted { ($0.element.name, $0.offset) < ($1.element.name, $1.offset) }
            .map(\.element)
        return pairs.isEmpty ? "" : "?" + FormURLEncoded.serialize(pairs)
    }

    public static func == (left: CacheKey, right: CacheKey) -> Bool {
        left.digest == right.digest && left.shape == right.shape && left.group == right.group
            && left.flow == right.flow && left.step == right.step && left.extra == right.extra
            && left.account == right.account
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    public var description: String { "\(account) \(resource)" }
}

/// A keyed multiply-xorshift over 8-byte words. The per-process random seed keeps an outsider
/// from choosing colliding paths in advance; the dictionary's own seeded Hasher runs on top.
enum KeyDigest {
    static let seed = UInt64.random(in: .min ... .max)

    static func mix(_ text: String, into state: UInt64) -> UInt64 {
        text.withUTF8Bytes { mix(UnsafeRawBufferPointer($0), into: state) }
    }

    /// Four words (a key's shape and SIDs' fingerprints).
    static func mix(words: (UInt64, UInt64, UInt64, UInt64), into state: UInt64) -> UInt64 {
        @inline(__always) func step(_ hash: UInt64, _ word: UInt64) -> UInt64 {
            let mixed = (hash ^ word) &* 0xFF51_AFD7_ED55_8CCD
            return mixed ^ mixed >> 32
        }
        return step(step(step(step(state, words.0), words.1), words.2), words.3)
    }

    /// A word at a time; the last word overlaps the one before it (the length is mixed in first,
    /// so texts that differ only in length still differ), so no byte-wise tail.
    @inline(__always) private static func mix(_ bytes: UnsafeRawBufferPointer, into state: UInt64) -> UInt64 {
        var hash = state ^ UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15
        if bytes.count >= 8 {
            var index = 0
            while index + 8 < bytes.count {
                hash = (hash ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
                hash ^= hash >> 32
                index += 8
            }
            hash =
                (hash ^ bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self)) &* 0xC4CE_B9FE_1A85_EC53
        } else {
            var tail: UInt64 = 0
            for byte in bytes { tail = tail << 8 | UInt64(byte) }
            hash = (hash ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        }
        return hash ^ hash >> 29
    }
}
