import Foundation
import Locking
import XCTest

/// Starts the real `studiogate` and `mock-studio` binaries on loopback port 0 and reads the
/// port they print. Killed when the test's teardown runs.
final class RunningBinary {
    let process: Process
    let port: UInt16
    let output: Pipe
    /// The admin listener's port, when the first line names one.
    let adminPort: UInt16?
    /// Everything printed on stdout after the first line.
    private let captured = CapturedOutput()
    var capturedOutput: String { String(decoding: captured.data.withLock { $0 }, as: UTF8.self) }

    /// The package's root: this file is `Tests/TestSupport/Processes.swift`.
    static var packageDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static var productsDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    convenience init(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        try self.init(
            executable: Self.productsDirectory.appendingPathComponent(name), arguments, environment: environment)
    }

    init(executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        let name = executable.lastPathComponent
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        // Tests/Sanitizers/run.sh checks the binaries for leaks, not the XCTest runner.
        if let options = env["STUDIOGATE_BINARY_ASAN_OPTIONS"] { env["ASAN_OPTIONS"] = options }
        for (key, value) in environment { env[key] = value }
        process.environment = env
        output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        // The child has its copy; keeping ours would mean EOF never comes (and the pipe leaks).
        try output.fileHandleForWriting.close()
        // A stdout line says "... listening on http://127.0.0.1:PORT ..." (log lines may come first).
        var line = ""
        var earlier = ""
        let handle = output.fileHandleForReading
        for _ in 0..<50 {
            earlier += line
            line = ""
            while !line.hasSuffix("\n") {
                let byte = handle.readData(ofLength: 1)
                if byte.isEmpty { break }
                line += String(decoding: byte, as: UTF8.self)
            }
            if line.contains("listening on") || line.isEmpty { break }
        }
        guard let range = line.range(of: #"https?://127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = UInt16(line[range].split(separator: ":").last!)
        else {
            process.terminate()
            throw NSError(
                domain: "RunningBinary", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(name) printed '\(line)'"])
        }
        self.port = port
        adminPort = line.range(of: #"admin on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression)
            .flatMap { UInt16(line[$0].split(separator: ":").last!) }
        // Keep draining stdout so a chatty process never blocks on a full pipe.
        let captured = self.captured
        captured.data.withLock { $0.append(Data(earlier.utf8)) }
        handle.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { captured.data.withLock { $0.append(data) } }
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// The output once it contains `text`, or as it is after `seconds`: stdout reaches us through a
    /// pipe and a reader thread, so a line the process wrote before answering may arrive after the
    /// answer does.
    func output(containing text: String, within seconds: Double = 5) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var output = capturedOutput
        while !output.contains(text) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            output = capturedOutput
        }
        return output
    }

    deinit { stop() }
}

final class CapturedOutput: Sendable {
    let data = Locked(Data())
}

/// The mock's control API and counters, over a raw client.
struct MockControl {
    let port: UInt16

    @discardableResult
    func call(_ method: String, _ path: String, body: String = "") throws -> RawClient.Response {
        let client = try RawClient(port: port)
        client.send(
            "\(method) \(path) HTTP/1.1\r\nHost: mock\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        )
        return try client.readResponse()
    }

    func reset() throws { try call("POST", "/__mock/reset") }

    /// How many Studio requests the mock received for `path` (all methods unless given).
    func count(_ path: String, method: String? = nil) throws -> Int {
        var query = "path=" + (path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path)
        if let method { query += "&method=\(method)" }
        return try call("GET", "/__mock/requests?\(query)").json?["count"] as? Int ?? -1
    }

    /// The header fields of the last Studio request the mock got, names lowercased.
    func lastRequestHeaders() throws -> [String: String] {
        let pairs = try call("GET", "/__mock/last-request").json?["headers"] as? [[String]] ?? []
        return Dictionary(pairs.map { ($0[0].lowercased(), $0[1]) }, uniquingKeysWith: { first, _ in first })
    }

    /// TCP connections the mock has accepted since it started.
    func acceptedConnections() throws -> Int { try call("GET", "/__mock/connections").json?["accepted"] as? Int ?? -1 }

    func totalCount() throws -> Int { try call("GET", "/__mock/requests").json?["count"] as? Int ?? -1 }

    func fault(_ json: String) throws { try call("POST", "/__mock/faults", body: json) }

    /// Makes the mock's execution `sid` created `secondsAgo` seconds ago (whole seconds, as Studio writes them).
    func setCreated(_ sid: String, secondsAgo: Double) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let text = formatter.string(from: Date().addingTimeInterval(-secondsAgo))
        let answer = try call("POST", "/__mock/executions/\(sid)/date_created", body: text)
        guard answer.status == 200 else { throw MockControlRefused(status: answer.status) }
    }
}

struct MockControlRefused: Error { let status: Int }

extension RunningBinary {
    /// The process's resident memory (VmRSS) in KiB.
    func residentKiB() throws -> Int { try Self.residentKiB(process: String(process.processIdentifier)) }

    /// VmRSS in KiB of `process` (a pid, or `self` for the test runner).
    static func residentKiB(process: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
}
