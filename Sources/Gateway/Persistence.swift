import Cache
import EventLoop
import Foundation
import Sealing

/// `--state-dir`: ended entries (immutable) are snapshotted and restored across restarts.
/// Restored entries still need a verified credential for a hit, as always.
extension Gateway {
    var snapshotPath: String? { config.stateDir.map { ($0 as NSString).appendingPathComponent("cache.snapshot") } }

    /// Throws (with a message for the operator) if `--state-dir` exists and is world-writable.
    public static func checkStateDirectory(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }  // created 0700 on first write
        try SnapshotFile.checkDirectory(path)
    }

    /// Loads the snapshot, if any; a damaged file is reported and what can be read is kept.
    /// Nothing is loaded from a world-writable directory.
    @discardableResult
    public func restoreSnapshot() -> SnapshotFile.LoadReport? {
        guard let path = snapshotPath else { return nil }
        let bytes: [UInt8]
        do {
            guard let read = try SnapshotFile.read(from: path) else { return nil }
            bytes = read
        } catch let error as POSIXError where error.code == .ENOENT {
            return nil  // no state directory yet
        } catch {
            logger.log(.error, "snapshot \(path) not restored: \(error)")
            return nil
        }
        let started = MonotonicClock.now()
        let (entries, report) = SnapshotFile.decode(
            bytes, now: clock(), wallNow: wallClock(), sealing: snapshotSealing)
        store.restore(entries)
        let milliseconds = Double(MonotonicClock.now() - started) / 1e6
        if report.sealedWithoutKey {
            logger.log(.warn, "snapshot \(path) is sealed and no --data-key is set: nothing restored (it is replaced)")
            return report
        }
        let level: Logger.Level =
            report.corrupt > 0 || report.unopened > 0 || report.truncated || report.unreadableHeader ? .warn : .info
        logger.log(
            level,
            "snapshot \(path): restored \(report.loaded) entries, skipped \(report.corrupt) corrupt records"
                + ", \(report.expired) past retention"
                + (report.unopened > 0
                    ? ", \(report.unopened) records no data key of this gateway opens (sealed with a key it no"
                        + " longer has, or changed): skipped" : "")
                + (report.truncated ? ", file truncated" : "")
                + (report.unreadableHeader ? ", unreadable header (ignored)" : "")
                + " (\(bytes.count) bytes in \(Self.rounded(milliseconds)) ms)")
        return report
    }

    /// With `--data-key`, every record is sealed (the first key seals, every key opens).
    var snapshotSealing: SnapshotFile.Sealing? {
        guard let sealer = config.dataKey.flatMap({ try? DataKeys(parsing: $0) }).map(Sealer.init(keys:)) else {
            return nil
        }
        return SnapshotFile.Sealing(
            seal: { plaintext, place in sealer.seal(plaintext, place: place) },
            open: { sealed, place in sealer.open(sealed, place: place) })
    }

    /// Writes every immutable entry within its retention bound; returns how many (0 if the write failed).
    @discardableResult
    public func writeSnapshot() -> Int {
        guard let path = snapshotPath else { return 0 }
        let started = MonotonicClock.now()
        let entries = store.permanentEntries()
        do {
            try FileManager.default.createDirectory(
                atPath: config.stateDir!, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            let bytes = SnapshotFile.encode(entries, now: clock(), wallNow: wallClock(), sealing: snapshotSealing)
            try SnapshotFile.write(bytes, to: path)
            let milliseconds = Double(MonotonicClock.now() - started) / 1e6
            logger.log(
                .debug,
                "snapshot \(path): wrote \(entries.count) entries (\(bytes.count) bytes in \(Self.rounded(milliseconds)) ms)"
            )
        } catch {
            logger.log(.error, "snapshot \(path) failed: \(error)")
            return 0
        }
        return entries.count
    }

    private static func rounded(_ milliseconds: Double) -> Double { (milliseconds * 10).rounded() / 10 }
}
