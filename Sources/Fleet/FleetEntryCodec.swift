import Cache
import HTTP

/// A cache entry as the fleet stores it in Redis: the bytes the entry holds (compressed
/// when permanent, as they came when short-lived) and its times in wall-clock milliseconds, since
/// each pod's monotonic clock starts at its own boot. Decoding checks every length against what
/// is left, so a damaged or planted value is refused, never trusted.
enum FleetEntryCodec {
    /// SG3: bodies in the fleet's form (`FleetForm`, no pod's public URL) and the retention bound.
    /// Older values (SG1 named the storing pod's public URL, SG2 lacked the form or the bound)
    /// are refused and fetched again.
    private static let magic: [UInt8] = Array("SG3".utf8)

    /// `monotonicNow` and `wallNow` (seconds) convert between the pod's clock and the fleet's.
    static func encode(_ entry: CachedResponse, monotonicNow: Double, wallNow: Double) -> [UInt8] {
        var out = magic
        let identity = entry.gzipBody == nil
        out.append((identity ? 1 : 0) | (entry.isPermanent ? 2 : 0))
        append(&out, UInt64(entry.status.code))
        append(&out, Array(entry.account.utf8))
        append(&out, Array((entry.contentType ?? "").utf8))
        append(&out, Array((entry.requestID ?? "").utf8))
        append(&out, UInt64(max(0, (wallNow - (monotonicNow - entry.storedAt)) * 1000)))
        append(&out, UInt64(max(0, entry.expiresAt.map { (wallNow + ($0 - monotonicNow)) * 1000 } ?? 0)))
        // The retention bound travels with the entry: no pod keeps it longer than the one that made it.
        let retainUntil =
            entry.retainUntil.isInfinite ? 0 : max(1, (wallNow + (entry.retainUntil - monotonicNow)) * 1000)
        append(&out, UInt64(retainUntil))
        append(&out, UInt64(entry.identityLength))
        append(&out, (identity ? entry.identityBody : entry.gzipBody) ?? [])
        append(&out, entry.engagementGzip ?? [])
        return out
    }

    static func decode(_ bytes: [UInt8], monotonicNow: Double, wallNow: Double) -> CachedResponse? {
        var reader = Reader(bytes: bytes)
        guard reader.take(magic.count).map(Array.init) == magic, let flags = reader.byte(), flags < 4,
            let status = reader.number(), (100...599).contains(status),
            let account = reader.text(), let contentType = reader.text(), let requestID = reader.text(),
            let storedAtMs = reader.number(), let expiresAtMs = reader.number(), let retainUntilMs = reader.number(),
            let identityLength = reader.number(), identityLength <= 64 << 20,
            let body = reader.blob(), !body.isEmpty || identityLength == 0, let engagement = reader.blob(),
            reader.isAtEnd
        else { return nil }
        let identity = flags & 1 != 0
        let permanent = flags & 2 != 0
        let toMonotonic = { (ms: UInt64) in monotonicNow - (wallNow - Double(ms) / 1000) }
        return CachedResponse(
            status: HTTPStatus(Int(status)), contentType: contentType.isEmpty ? nil : contentType,
            requestID: requestID.isEmpty ? nil : requestID, gzipBody: identity ? nil : body,
            identityBody: identity ? body : nil, identityLength: Int(identityLength), account: account,
            storedAt: min(monotonicNow, toMonotonic(storedAtMs)), expiresAt: permanent ? nil : toMonotonic(expiresAtMs),
            retainUntil: retainUntilMs == 0 ? .infinity : toMonotonic(retainUntilMs),
            engagementGzip: engagement.isEmpty ? nil : engagement)
    }

    private static func append(_ out: inout [UInt8], _ number: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: number >> shift)) }
    }

    private static func append(_ out: inout [UInt8], _ bytes: [UInt8]) {
        append(&out, UInt64(bytes.count))
        out.append(contentsOf: bytes)
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var isAtEnd: Bool { index == bytes.count }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, count <= bytes.count - index else { return nil }
            defer { index += count }
            return bytes[index..<index + count]
        }

        mutating func byte() -> UInt8? { take(1)?.first }

        mutating func number() -> UInt64? {
            take(8).map { $0.reduce(0) { $0 << 8 | UInt64($1) } }
        }

        mutating func blob() -> [UInt8]? {
            guard let count = number(), count <= UInt64(bytes.count - index) else { return nil }
            return take(Int(count)).map(Array.init)
        }

        mutating func text() -> String? {
            guard let blob = blob(), blob.count <= 1024 else { return nil }
            return String(validating: blob, as: UTF8.self)
        }
    }
}
