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
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    public let account: String
    public let resource: String
    public let group: CacheGroup
    /// Account and resource mixed once, when the key is made: a hit hashes its key once, not per
    /// lookup, and the bytes are mixed a word at a time (Hasher still finishes each lookup).
    let digest: UInt64

    public init(account: String, resource: String, group: CacheGroup) {
        self.account = account
        self.resource = resource
        self.group = group
        digest = KeyDigest.mix(resource, into: KeyDigest.mix(account, into: KeyDigest.seed))
    }

    public init?(account: String, route: StudioRoute, query: String) {
        guard let group = Self.group(of: route) else { return nil }
        let path = route.upstreamPath
        self.init(account: account, resource: query.isEmpty ? path : path + Self.canonicalQuery(query), group: group)
    }

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

    /// `group` is a function of `resource`, so it is left out.
    public static func == (left: CacheKey, right: CacheKey) -> Bool {
        left.digest == right.digest && left.resource == right.resource && left.account == right.account
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    public var description: String { "\(account) \(resource)" }
}

/// A keyed multiply-xorshift over 8-byte words. The per-process random seed keeps an outsider
/// from choosing colliding paths in advance; the dictionary's own seeded Hasher runs on top.
enum KeyDigest {
    static let seed = UInt64.random(in: .min ... .max)

    static func mix(_ text: String, into state: UInt64) -> UInt64 {
        // Native strings (every key's) hand out their bytes without a copy; others are copied.
        text.utf8.withContiguousStorageIfAvailable { mix(UnsafeRawBufferPointer($0), into: state) }
            ?? Array(text.utf8).withUnsafeBytes { mix($0, into: state) }
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
