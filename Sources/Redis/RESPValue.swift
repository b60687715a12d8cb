/// One RESP2 value as Redis sends it. Bulk strings stay bytes (cache entries are compressed
/// binary); simple strings and errors are text by the protocol's rules (no CR or LF inside).
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// `nil` is the null bulk string (`$-1`): GET of a missing key, SET NX that did not set.
    case bulkString([UInt8]?)
    /// `nil` is the null array (`*-1`).
    case array([RESPValue]?)
}
