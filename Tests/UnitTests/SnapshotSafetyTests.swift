import Cache
import Foundation
import Gateway
import Glibc
import XCTest

@testable import TestSupport

/// Issue 18 #7: the snapshot's temp file is created, never opened through a planted symlink, and a
/// state directory anyone can write to is refused (for writing and for restoring: a file planted
/// there would be served as cached answers).
final class SnapshotSafetyTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "studiogate-snap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    override func tearDownWithError() throws {
        chmod(directory.path, 0o700)
        try? FileManager.default.removeItem(at: directory)
    }

    func sample() -> [(CacheKey, CachedResponse)] {
        [
            (
                CacheKey(account: "ACa", resource: "/v2/Flows/FW/Executions/FN1", group: testGroup("FN1")),
                CachedResponse(
                    status: 200, contentType: "application/json", requestID: nil, gzipBody: [1, 2, 3],
                    identityLength: 3,
                    account: "ACa", storedAt: 1, expiresAt: nil)
            )
        ]
    }

    func testAPlantedSymlinkAtTheOldTempNameIsNotFollowed() throws {
        let victim = directory.appendingPathComponent("victim")
        try Data("precious".utf8).write(to: victim)
        let path = directory.appendingPathComponent("cache.snapshot").path
        // The name the writer used to pick: `.<name>.tmp-<pid>`.
        let planted = directory.appendingPathComponent(".cache.snapshot.tmp-\(getpid())").path
        XCTAssertEqual(symlink(victim.path, planted), 0)
        let bytes = SnapshotFile.encode(sample())
        try SnapshotFile.write(bytes, to: path)
        XCTAssertEqual(
            try String(contentsOf: victim, encoding: .utf8), "precious", "the symlink's target was overwritten")
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), bytes)
        var status = stat()
        XCTAssertEqual(lstat(path, &status), 0)
        XCTAssertEqual(status.st_mode & S_IFMT, S_IFREG)
        XCTAssertEqual(status.st_mode & 0o777, 0o600)
        // Nothing left behind but the planted link.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        XCTAssertEqual(names, [".cache.snapshot.tmp-\(getpid())", "cache.snapshot", "victim"])

        // A symlink at the snapshot's own name is replaced, not written through.
        try FileManager.default.removeItem(atPath: path)
        XCTAssertEqual(symlink(victim.path, path), 0)
        try SnapshotFile.write(bytes, to: path)
        XCTAssertEqual(try String(contentsOf: victim, encoding: .utf8), "precious")
        XCTAssertEqual(lstat(path, &status), 0)
        XCTAssertEqual(status.st_mode & S_IFMT, S_IFREG)
    }

    func testAWorldWritableStateDirectoryIsRefused() throws {
        let path = directory.appendingPathComponent("cache.snapshot").path
        let bytes = SnapshotFile.encode(sample())
        try SnapshotFile.write(bytes, to: path)
        XCTAssertEqual(chmod(directory.path, 0o777), 0)
        XCTAssertThrowsError(try SnapshotFile.write(bytes, to: path)) { error in
            XCTAssertTrue("\(error)".contains("world-writable"), "\(error)")
        }
        // Restoring from it is refused too: anyone could have planted the file.
        var config = GatewayConfig()
        config.stateDir = directory.path
        let gateway = Gateway(config: config, logger: Logger(level: .error))
        XCTAssertNil(gateway.restoreSnapshot())
        XCTAssertEqual(gateway.writeSnapshot(), 0)
        XCTAssertEqual(chmod(directory.path, 0o700), 0)
        XCTAssertEqual(gateway.restoreSnapshot()?.loaded, 1)
    }
}
