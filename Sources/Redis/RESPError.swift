/// Why a reply could not be read. After one, the parser stays failed: the stream's framing is lost
/// and the connection must be closed.
public enum RESPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first byte of a value is not one of `+ - : $ *`.
    case invalidTypeByte(UInt8)
    /// A bulk or array length that is empty, not decimal, or negative other than -1.
    case invalidLength
    /// An integer reply that is empty, not decimal, or outside Int64.
    case invalidInteger
    /// A line not ended by CRLF (a bare LF, a CR inside), or a bulk string not followed by CRLF.
    case missingCRLF
    case lineTooLong(limit: Int)
    /// The declared bulk length is over the limit (numbers too large for Int included).
    case bulkTooLong(limit: Int)
    case tooManyElements(limit: Int)
    case tooDeep(limit: Int)
    case valueTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .invalidTypeByte(let byte): "invalid RESP type byte 0x\(String(byte, radix: 16))"
        case .invalidLength: "invalid RESP length"
        case .invalidInteger: "invalid RESP integer"
        case .missingCRLF: "RESP line or bulk string not ended by CRLF"
        case .lineTooLong(let limit): "RESP line longer than \(limit) bytes"
        case .bulkTooLong(let limit): "RESP bulk string declared longer than \(limit) bytes"
        case .tooManyElements(let limit): "RESP array declared with more than \(limit) elements"
        case .tooDeep(let limit): "RESP arrays nested deeper than \(limit)"
        case .valueTooLarge(let limit): "RESP reply larger than \(limit) bytes"
        }
    }
}
