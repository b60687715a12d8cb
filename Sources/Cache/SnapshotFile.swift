import Compression
import Foundation
import Glibc
import HTTP

/// The on-disk form of immutable (ended-execution) entries, so they survive restarts.
///
/// File: magic `SGSNAP`, a UInt16 format version (2: records in clear, 3: sealed), then records, each `SGR1 · length (UInt32) · crc32 (UInt32) · payload`. A payload holds the key,
/// the entry and its retention bound (wall-clock ms; 0 = none): what is past it is neither
/// written nor restored. Sealed (`--data-key`), a payload is two sealed blobs: the key's text
/// (place: `snapshot key`), then the rest (place: that key's text), so nothing of it (bodies,
/// accounts, paths) can be read, and no entry can be moved under another key or changed. A damaged record (bad marker, length or CRC) is skipped by scanning
/// to the next `SGR1` marker, so one bad byte costs one record; a record cut short at the end of
/// the file is reported as truncation. Written to a new temp file (unpredictable name, mode 0600,
/// never through a symlink), fsync'd, then renamed over the old one, so a crash mid-write leaves
/// the previous snapshot intact. A world-writable directory is refused for reading and writing.
/// Credentials are not entries and are never written.
public enum SnapshotFile {
    static let magic = Array("SGSNAP".utf8)
    static let recordMarker = Array("SGR1".utf8)
    public static let version: UInt16 = 2
    public static let sealedVersion: UInt16 = 3
    static let keyPlace = Array("snapshot key".utf8)

    /// Seals and opens records (`Sealer` under `--data-key`; passed in, so this target needs no keys).
    public struct Sealing: Sendable {
        public var seal: @Sendable (_ plaintext: [UInt8], _ place: [UInt8]) -> [UInt8]
        public var open: @Sendable (_ sealed: [UInt8], _ place: [UInt8]) -> [UInt8]?

        public init(
            seal: @escaping @Sendable ([UInt8], [UInt8]) -> [UInt8],
            open: @escaping @Sendable ([UInt8], [UInt8]) -> [UInt8]?
        ) {
            self.seal = seal
            self.open = open
        }
    }

    public struct LoadReport: Equatable, Sendable {
        public var loaded = 0
        public var corrupt = 0
        /// Sealed records no key of ours opened (sealed with a key no longer given, or changed).
        public var unopened = 0
        /// Records past their retention bound, left out.
        public var expired = 0
        /// The file is sealed and the gateway has no data key: nothing could be read.
        public var sealedWithoutKey = false
        public var truncated = false
        public var unreadableHeader = false
    }

    /// The records of `entries` still within their retention bound (`now` monotonic, `wallNow`
    /// seconds since 1970), sealed when `sealing` is given.
    public static func encode(
        _ entries: [(CacheKey, CachedResponse)], now: Double = 0, wallNow: Double = 0, sealing: Sealing? = nil
    ) -> [UInt8] {
        var out = magic
        append(&out, sealing == nil ? version : sealedVersion)
        for (key, entry) in entries where !entry.isPastRetention(now: now) {
            let keyText = [key.account, key.resource, key.group.description].joined(separator: "\n")
            var payload: [UInt8] = []
            for text in [entry.account, entry.contentType ?? "", entry.requestID ?? ""] {
                appendBytes(&payload, Array(text.utf8))
            }
            append(&payload, UInt16(entry.status.code))
            append(&payload, UInt32(entry.identityLength))
            appendBytes(&payload, entry.gzipBody ?? Zlib.compress(entry.identityBody ?? [], format: .gzip, level: 6))
            appendBytes(&payload, entry.engagementGzip ?? [])
            let retainUntil = entry.retainUntil.isInfinite ? 0 : max(1, (wallNow + entry.retainUntil - now) * 1000)
            append(&payload, UInt64(retainUntil))
            let keyBytes = Array(keyText.utf8)
            var record: [UInt8] = []
            if let sealing {
                appendBytes(&record, sealing.seal(keyBytes, keyPlace))
                appendBytes(&record, sealing.seal(payload, keyBytes))
            } else {
                appendBytes(&record, keyBytes)
                record += payload
            }
            payload = record
            out += recordMarker
            append(&out, UInt32(payload.count))
            append(&out, Zlib.crc32(payload))
            out += payload
        }
        return out
    }

    /// Entries restored as immutable, stored `now` (monotonic; `wallNow` seconds since 1970),
    /// each within its retention bound.
    public static func decode(_ bytes: [UInt8], now: Double, wallNow: Double = 0, sealing: Sealing? = nil) -> (
        [(CacheKey, CachedResponse)], LoadReport
    ) {
        var report = LoadReport()
        let fileVersion =
            bytes.count >= magic.count + 2 ? UInt16(bytes[magic.count]) | UInt16(bytes[magic.count + 1]) << 8 : 0
        guard Array(bytes.prefix(magic.count)) == magic, fileVersion == version || fileVersion == sealedVersion else {
            report.unreadableHeader = !bytes.isEmpty
            return ([], report)
        }
        let sealed = fileVersion == sealedVersion
        if sealed, sealing == nil {
            report.sealedWithoutKey = true
            return ([], report)
        }
        let context = RecordContext(now: now, wallNow: wallNow, sealing: sealed ? sealing : nil)
        var entries: [(CacheKey, CachedResponse)] = []
        var accounts: [String: String] = [:]  // one string per account, shared by its entries
        var offset = magic.count + 2
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else {
                report.truncated = true
                break
            }
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
                if next == bytes.count {
                    report.truncated = true
                    break
                }
                report.corrupt += 1
                offset = next
                continue
            }
            let payload = Array(bytes[start..<(start + length)])
            guard Zlib.crc32(payload) == crc else {
                report.corrupt += 1
                offset = nextMarker(in: bytes, after: offset + 4)
                continue
            }
            offset = start + length
            switch decodeRecord(payload, context, accounts: &accounts) {
            case .entry(let key, let entry):
                entries.append((key, entry))
                report.loaded += 1
            case .expired: report.expired += 1
            case .unopened: report.unopened += 1
            case .malformed: report.corrupt += 1
            }
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

    private struct RecordContext {
        let now: Double
        let wallNow: Double
        let sealing: Sealing?
    }

    private enum Record {
        case entry(CacheKey, CachedResponse)
        case expired, unopened, malformed
    }

    private static func decodeRecord(_ record: [UInt8], _ context: RecordContext, accounts: inout [String: String])
        -> Record
    {
        var outer = Reader(bytes: record)
        guard let firstBlob = outer.blob() else { return .malformed }
        let keyBytes: [UInt8]
        let payload: [UInt8]
        if let sealing = context.sealing {
            guard let sealedRest = outer.blob(), outer.atEnd else { return .malformed }
            guard let opened = sealing.open(firstBlob, keyPlace), let rest = sealing.open(sealedRest, opened) else {
                return .unopened
            }
            (keyBytes, payload) = (opened, rest)
        } else {
            (keyBytes, payload) = (firstBlob, Array(record[outer.offset...]))
        }
        let keyParts = String(decoding: keyBytes, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false)
        var reader = Reader(bytes: payload)
        guard keyParts.count == 3, let group = CacheGroup(String(keyParts[2])), let owner = reader.text(),
            let contentType = reader.text(), let requestID = reader.text(), let status = reader.uint16(),
            let identityLength = reader.uint32(), let gzip = reader.blob(), let engagement = reader.blob(),
            let retainUntilMs = reader.uint64(), reader.atEnd
        else { return .malformed }
        let retainUntil =
            retainUntilMs == 0 ? Double.infinity : context.now + (Double(retainUntilMs) / 1000 - context.wallNow)
        guard retainUntil > context.now else { return .expired }
        let keyAccount = String(keyParts[0])
        let account = accounts[keyAccount] ?? keyAccount
        accounts[account] = account
        let entry = CachedResponse(
            status: HTTPStatus(Int(status)), contentType: contentType.isEmpty ? nil : contentType,
            requestID: requestID.isEmpty ? nil : requestID, gzipBody: gzip, identityLength: Int(identityLength),
            account: owner == account ? account : owner, storedAt: context.now, expiresAt: nil,
            retainUntil: retainUntil, engagementGzip: engagement.isEmpty ? nil : engagement)
        return .entry(CacheKey(account: account, resource: String(keyParts[1]), group: group), entry)
    }

    /// A state directory any local user can write to: they could plant the snapshot (poisoned
    /// entries served as cached answers) or a symlink where it is written. Refused, not repaired.
    public struct UnsafeDirectory: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "state directory \(path) is world-writable (mode o+w): any local user could plant or replace the snapshot; "
                + "run chmod o-w on it or choose a directory only the gateway's user can write"
        }
    }

    /// Opens `directory` for the *at calls, refusing a world-writable one (sticky bit or not).
    static func openDirectory(_ directory: String) throws -> Int32 {
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        guard status.st_mode & S_IWOTH == 0 else {
            close(fd)
            throw UnsafeDirectory(path: directory)
        }
        return fd
    }

    /// Throws `UnsafeDirectory` if `directory` is world-writable, a POSIXError if it cannot be opened.
    public static func checkDirectory(_ directory: String) throws {
        close(try openDirectory(directory))
    }

    /// The snapshot's bytes, or nil if there is none. Refuses a world-writable directory and does
    /// not follow a symlink at `path`.
    public static func read(from path: String) throws -> [UInt8]? {
        let directoryFD = try openDirectory((path as NSString).deletingLastPathComponent)
        defer { close(directoryFD) }
        let fd = openat(directoryFD, (path as NSString).lastPathComponent, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    /// Writes atomically and safely in a directory others may not write to: a new temp file with
    /// an unpredictable name (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600, so nothing planted is
    /// opened or followed) → write → fsync → rename over `path` (a symlink there is replaced, not
    /// followed) → fsync the directory. A crash leaves the previous snapshot intact.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let name = (path as NSString).lastPathComponent
        let directoryFD = try openDirectory((path as NSString).deletingLastPathComponent)
        defer { close(directoryFD) }
        var temp = ""
        var fd: Int32 = -1
        for _ in 0..<8 {  // a collision of 128 random bits means someone is guessing; give up soon
            var random = SystemRandomNumberGenerator()
            temp = ".\(name).tmp-" + String(random.next(), radix: 16) + String(random.next(), radix: 16)
            fd = openat(directoryFD, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        func abandon(_ code: Int32) -> POSIXError {
            close(fd)
            unlinkat(directoryFD, temp, 0)
            return POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw abandon(errno)
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw abandon(errno) }
        guard close(fd) == 0 else {
            let code = errno
            unlinkat(directoryFD, temp, 0)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        guard renameat(directoryFD, temp, directoryFD, name) == 0 else {
            let code = errno
            unlinkat(directoryFD, temp, 0)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        guard fsync(directoryFD) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
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

        mutating func uint64() -> UInt64? {
            guard let low = uint32(), let high = uint32() else { return nil }
            return UInt64(high) << 32 | UInt64(low)
        }

        mutating func blob() -> [UInt8]? {
            guard let length = uint32().map(Int.init), length <= bytes.count - offset else { return nil }
            defer { offset += length }
            return Array(bytes[offset..<(offset + length)])
        }

        mutating func text() -> String? { blob().map { String(decoding: $0, as: UTF8.self) } }
    }
}
