import CZlib

/// One-shot zlib compression over byte arrays. Cache entries are stored compressed and
/// served as gzip to clients that accept it, so both wrappers are needed.
public enum Zlib {
    public enum Format: Sendable {
        case zlib
        case gzip

        /// zlib's windowBits: 15 for a zlib wrapper, 15 + 16 asks for a gzip wrapper.
        var windowBits: Int32 { self == .gzip ? 31 : 15 }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let code: Int32
        public let description: String
        /// The data was fine, but inflating it would pass the caller's limit.
        public var isOverLimit = false
    }

    /// CRC-32 (the zlib/gzip polynomial) of `bytes`.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(CZlib.crc32(0, $0.baseAddress, UInt32($0.count))) }
    }

    public static func compress(_ input: [UInt8], format: Format = .gzip, level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        let initResult = czlib_deflate_init2(&stream, level, format.windowBits, 8, Z_DEFAULT_STRATEGY)
        precondition(initResult == Z_OK, "deflateInit2 failed: \(initResult)")  // only fails on bad arguments or OOM
        defer { deflateEnd(&stream) }

        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))))
        let produced: Int = input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                let result = deflate(&stream, Z_FINISH)
                precondition(result == Z_STREAM_END, "deflate with a deflateBound buffer must finish: \(result)")
                return outBuf.count - Int(stream.avail_out)
            }
        }
        // A fresh array of the exact size: removeSubrange would keep deflateBound's capacity,
        // which is larger than the input, in every cache entry.
        return Array(output[0..<produced])
    }

    /// Inflates `input`; refuses to produce more than `limit` bytes (a compressed bomb is an error).
    public static func decompress(_ input: [UInt8], format: Format = .gzip, limit: Int = 64 << 20) throws -> [UInt8] {
        var stream = z_stream()
        let initResult = czlib_inflate_init2(&stream, format.windowBits)
        guard initResult == Z_OK else { throw Failure(code: initResult, description: "inflateInit2 failed") }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        output.reserveCapacity(max(64, input.count * 4))
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        return try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while true {
                let (result, produced) = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    let result = inflate(&stream, Z_NO_FLUSH)
                    return (result, outBuf.count - Int(stream.avail_out))
                }
                output.append(contentsOf: chunk[0..<produced])
                guard output.count <= limit else { throw Failure(code: Z_BUF_ERROR, description: "inflated size over \(limit) bytes", isOverLimit: true) }
                switch result {
                case Z_STREAM_END:
                    return output
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw Failure(code: result, description: "truncated compressed data")
                default:
                    throw Failure(code: result, description: "corrupt compressed data")
                }
            }
        }
    }
}
