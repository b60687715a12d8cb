import Foundation
import XCTest

/// Debian's `chromium`, headless, on a page saved to a file: the rendered DOM (`--dump-dom`) and
/// a screenshot. Each run has its own profile directory, so parallel runs never share a lock.
enum HeadlessChromium {
    static let executable = "/usr/bin/chromium"

    struct Missing: Error, CustomStringConvertible {
        var description: String { "headless tests need Debian's chromium (apt-get install chromium)" }
    }

    /// The DOM after Chromium parsed and laid out `file`.
    static func dumpDOM(_ file: URL) throws -> String {
        try run(["--dump-dom", file.absoluteString])
    }

    /// A PNG of `file` at 1200×1600, written to `png`.
    static func screenshot(_ file: URL, to png: URL) throws {
        try? FileManager.default.removeItem(at: png)
        _ = try run(["--screenshot=\(png.path)", "--window-size=1200,1600", "--hide-scrollbars", file.absoluteString])
    }

    private static func run(_ arguments: [String]) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw Missing() }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                "--user-data-dir=\(profile.path)",
            ] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // Read before waiting: a page larger than the pipe's buffer would otherwise block Chromium.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "chromium \(arguments)")
        return String(decoding: data, as: UTF8.self)
    }
}
