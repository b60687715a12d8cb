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
        // A window and hash table sized to the input: a 1 KiB body needs neither a 32 KiB window
        // nor zlib's 64 KiB tables, whose setup (allocation, clearing) cost more than compressing.
        // The output is the same standard stream; any inflater reads it.
        let windowLog = Int32(max(9, min(15, Int.bitWidth - (max(1, input.count) - 1).leadingZeroBitCount)))
        let memoryLevel = max(1, min(8, windowLog - 7))
        let windowBits = format == .gzip ? windowLog + 16 : windowLog
        let initResult = czlib_deflate_init2(&stream, level, windowBits, memoryLevel, Z_DEFAULT_STRATEGY)
        precondition(initResult == Z_OK, "deflateInit2 failed: \(initResult)")  // only fails on bad arguments or OOM
        defer { deflateEnd(&stream) }

        // Scratch space left uninitialised (zero-filling it cost more than compressing a small body).
        let scratch = UnsafeMutableBufferPointer<UInt8>.allocate(
            capacity: Int(deflateBound(&stream, UInt(input.count))))
        defer { scratch.deallocate() }
        let produced: Int = input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            stream.next_out = scratch.baseAddress
            stream.avail_out = UInt32(scratch.count)
            let result = deflate(&stream, Z_FINISH)
            precondition(result == Z_STREAM_END, "deflate with a deflateBound buffer must finish: \(result)")
            return scratch.count - Int(stream.avail_out)
        }
        // A fresh array of the exact size: deflateBound's capacity is larger than the input, and
        // it would be kept in every cache entry.
        return Array(UnsafeBufferPointer(rebasing: scratch[0..<produced]))
    }

    /// Inflates `input`; refuses to produce more than `limit` bytes (a compressed bomb is an error).
    public static func decompress(_ input: [UInt8], format: Format = .gzip, limit: Int = 64 << 20) throws -> [UInt8] {
        var stream = z_stream()
        let initResult = czlib_inflate_init2(&stream, format.windowBits)
        guard initResult == Z_OK else { throw Failure(code: initResult, description: "inflateInit2 failed") }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        output.reserveCapacity(max(64, input.count * 4))
        let chunk = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 16 * 1024)  // never zero-filled
        defer { chunk.deallocate() }
        return try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while true {
                stream.next_out = chunk.baseAddress
                stream.avail_out = UInt32(chunk.count)
                let result = inflate(&stream, Z_NO_FLUSH)
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[0..<produced]))
                guard output.count <= limit else {
                    throw Failure(
                        code: Z_BUF_ERROR, description: "inflated size over \(limit) bytes", isOverLimit: true)
                }
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
