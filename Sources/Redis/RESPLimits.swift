/// What one reply may declare before the parser refuses it. Every limit is checked before the
/// memory it would take is reserved, so a hostile or broken server cannot make us allocate what a
/// length field claims.
public struct RESPLimits: Sendable, Equatable {
    /// Largest bulk string (`$N`), in bytes.
    public var maxBulkLength = 16 << 20
    /// Most elements one array (`*N`) may declare.
    public var maxArrayElements = 1 << 16
    /// Arrays inside arrays: a top-level array is depth 1.
    public var maxDepth = 8
    /// Longest line of a simple string, error or integer (and of a length), after the type byte.
    public var maxLineLength = 16 * 1024
    /// Bytes of one top-level reply, all of its elements together: a huge array of large bulk
    /// strings passes every other limit.
    public var maxValueBytes = 32 << 20

    public init() {}
}
