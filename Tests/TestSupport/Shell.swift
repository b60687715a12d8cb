import Foundation

/// Runs a `/bin/sh -c` command line in `directory` (the openssl CLI for throwaway certificates),
/// its output discarded; throws with `what` when it exits non-zero.
func runShell(_ command: String, in directory: URL, what: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.currentDirectoryURL = directory
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw NSError(domain: "sh", code: Int(process.terminationStatus), userInfo: [NSLocalizedDescriptionKey: what])
    }
}
