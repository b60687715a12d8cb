import Compression
import Foundation
import Glibc

/// The on-disk form of immutable (ended-execution) entries, so they survive restarts.
///
/// File: magic `SGSNAP`, a UInt16 format version, then records, each `SGR1 · length (UInt32) ·
/// crc32 (UInt32) · payload`. A damaged record (bad marker, length or CRC) is skipped by scanning
/// to the next `SGR1` marker, so one bad byte costs one record; a record cut short at the end of
/// the file is reported as truncation. Written to a temp file with mode 0600, fsync'd,
/// then renamed over the old one, so a crash mid-write leaves the previous snapshot intact.
/// Credentials are not entries and are never written.
public enum SnapshotFile {
    static let magic = Array("SGSNAP".utf8)
    static let recordMarker = Array("SGR1".utf8)
    public static let version: UInt16 = 1

    public struct LoadReport: Equatable, Sendable {
        public var loaded = 0
        public var corrupt = 0
        public var truncated = false
        public var unreadableHeader = false
    }

    public static func encode(_ entries: [(CacheKey, CachedResponse)]) -> [UInt8] {
        var out = magic
        append(&out, version)
        for (key, entry) in entries {
            var payload: [UInt8] = []
            for text in [key.account, key.resource, key.group, entry.account, entry.contentType ?? "", entry.requestID ?? ""] {
                appendBytes(&payload, Array(text.utf8))
            }
            append(&payload, UInt16(entry.status))
            append(&payload, UInt32(entry.identityLength))
            appendBytes(&payload, entry.gzipBody)
            appendBytes(&payload, entry.engagementGzip ?? [])
            out += recordMarker
            append(&out, UInt32(payload.count))
            append(&out, Zlib.crc32(payload))
            out += payload
        }
        return out
    }

    /// Entries restored as immutable, stored `now`.
    public static func decode(_ bytes: [UInt8], now: Double) -> ([(CacheKey, CachedResponse)], LoadReport) {
        var report = LoadReport()
        guard bytes.count >= magic.count + 2, Array(bytes[0..<magic.count]) == magic,
              UInt16(bytes[magic.count]) | UInt16(bytes[magic.count + 1]) << 8 == version
        else {
            report.unreadableHeader = !bytes.isEmpty
            return ([], report)
        }
        var entries: [(CacheKey, CachedResponse)] = []
        var offset = magic.count + 2
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { report.truncated = true; break }
            guard Array(bytes[offset..<(offset + 4)]) == recordMarker else {
                report.corrupt += 1
                offset = nextMarker(in: bytes, after: offset + 1)
                continue
            }
            let length = Int(readUInt32(bytes, offset + 4))
            let crc = readUInt32(bytes, offset + 8)
            let start = offset + 12
            guard length <= bytes.count - start else {
                let next = nextMarker(in: bytes, after: offset + 4)
                if next == bytes.count { report.truncated = true; break }
                report.corrupt += 1
                offset = next
                continue
            }
            let payload = Array(bytes[start..<(start + length)])
            guard Zlib.crc32(payload) == crc, let entry = decodeRecord(payload, now: now) else {
                report.corrupt += 1
                offset = nextMarker(in: bytes, after: offset + 4)
                continue
            }
            entries.append(entry)
            report.loaded += 1
            offset = start + length
        }
        return (entries, report)
    }

    /// The offset of the next record marker at or after `start`, or the end.
    private static func nextMarker(in bytes: [UInt8], after start: Int) -> Int {
        var index = start
        while index + 4 <= bytes.count {
            if bytes[index] == recordMarker[0], Array(bytes[index..<(index + 4)]) == recordMarker { return index }
            index += 1
        }
        return bytes.count
    }

    private static func decodeRecord(_ payload: [UInt8], now: Double) -> (CacheKey, CachedResponse)? {
        var reader = Reader(bytes: payload)
        guard let account = reader.text(), let resource = reader.text(), let group = reader.text(), let owner = reader.text(),
              let contentType = reader.text(), let requestID = reader.text(), let status = reader.uint16(),
              let identityLength = reader.uint32(), let gzip = reader.blob(), let engagement = reader.blob(), reader.atEnd
        else { return nil }
        let entry = CachedResponse(status: Int(status), contentType: contentType.isEmpty ? nil : contentType,
                                   requestID: requestID.isEmpty ? nil : requestID, gzipBody: gzip, identityLength: Int(identityLength),
                                   account: owner, storedAt: now, expiresAt: nil, engagementGzip: engagement.isEmpty ? nil : engagement)
        return (CacheKey(account: account, resource: resource, group: group), entry)
    }

    /// Writes atomically: temp file (0600) → fsync → rename → fsync the directory.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temp = "\(directory)/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                unlink(temp)
                throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
            }
            written += n
        }
        guard fsync(fd) == 0, close(fd) == 0 else {
            unlink(temp)
            throw POSIXError(.EIO)
        }
        guard rename(temp, path) == 0 else {
            let code = errno
            unlink(temp)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    private static func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func appendBytes(_ out: inout [UInt8], _ bytes: [UInt8]) {
        append(&out, UInt32(bytes.count))
        out += bytes
    }

    private static func readUInt32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        var atEnd: Bool { offset == bytes.count }

        mutating func uint16() -> UInt16? {
            guard offset + 2 <= bytes.count else { return nil }
            defer { offset += 2 }
            return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
        }

        mutating func uint32() -> UInt32? {
            guard offset + 4 <= bytes.count else { return nil }
            defer { offset += 4 }
            return SnapshotFile.readUInt32(bytes, offset)
        }

        mutating func blob() -> [UInt8]? {
            guard let length = uint32().map(Int.init), length <= bytes.count - offset else { return nil }
            defer { offset += length }
            return Array(bytes[offset..<(offset + length)])
        }

        mutating func text() -> String? { blob().map { String(decoding: $0, as: UTF8.self) } }
    }
}
