import Foundation
import Glibc

/// `--state-dir` is checked when the gateway starts, not at the first snapshot a minute later:
/// the directory is created if missing (mode 0700) and a probe file is written and removed.
public enum StateDirectory {
    public static func checkWritable(_ path: String) throws(ConfigError) {
        if let failure = makeDirectories(path) { throw ConfigError("state dir \(path) cannot be created: \(failure)") }
        let probe = (path as NSString).appendingPathComponent(".studiogate-write-check-\(getpid())")
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ConfigError("state dir \(path) is not writable: \(String(cString: strerror(errno)))")
        }
        defer { unlink(probe) }
        let written = write(fd, "x", 1)
        let syncError = fsync(fd)
        close(fd)
        guard written == 1, syncError == 0 else {
            throw ConfigError("state dir \(path) is not writable: \(String(cString: strerror(errno)))")
        }
    }

    /// `mkdir -p` with mode 0700 for what it creates; the failure's strerror text, or nil.
    private static func makeDirectories(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return isDirectory.boolValue ? nil : "\(path) exists and is not a directory"
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path, let failure = makeDirectories(parent) { return failure }
        if mkdir(path, 0o700) == 0 || errno == EEXIST { return nil }
        return String(cString: strerror(errno))
    }
}
