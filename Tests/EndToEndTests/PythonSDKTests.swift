import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// Runs Tests/python (the official `twilio` SDK from PyPI, in the venv Tests/python/setup-venv.sh
/// makes) against the real binaries. In CI the venv must exist; elsewhere the test makes it, or is
/// skipped when PyPI is out of reach.
final class PythonSDKTests: XCTestCase {
    func testTwilioSDKDrivesTheGateway() throws {
        let package = RunningBinary.packageDirectory
        let python = try venvPython(package)
        let harness = try GatewayHarness()
        defer { harness.stop() }

        let (status, text) = try Self.run(
            python, ["-m", "pytest", "Tests/python", "-q", "-s", "-p", "no:cacheprovider"], in: package,
            environment: [
                "GATEWAY_URL": "http://127.0.0.1:\(harness.gateway.port)",
                "MOCK_URL": "http://127.0.0.1:\(harness.mock.port)",
                // Vendored in the repository (Tests/python/openapi/README.md): a fresh clone needs nothing beside it.
                "OPENAPI_DIR": package.appendingPathComponent("Tests/python/openapi").path,
                "MOCK_FIXTURES": MockFixtures.json,
            ])
        XCTAssertEqual(status, 0, "pytest failed:\n\(text)")
        XCTAssertTrue(text.contains("schema validations passed"), text)
    }

    /// Runs `python ARGUMENTS` in `directory` with `environment` added to this process's; its exit
    /// status and its output (stdout and stderr, also printed).
    static func run(_ python: URL, _ arguments: [String], in directory: URL, environment: [String: String]) throws
        -> (status: Int32, text: String)
    {
        let process = Process()
        process.executableURL = python
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print(text)
        return (process.terminationStatus, text)
    }

    func venvPython(_ package: URL) throws -> URL {
        try Self.venvPython(package, venv: ".build/sdk-venv", setup: "Tests/python/setup-venv.sh")
    }

    /// The python of `venv`, made by the `setup` script when missing. In CI the venv must come out
    /// of it (scripts/dev.sh test makes both); elsewhere a venv PyPI cannot be reached for skips.
    static func venvPython(_ package: URL, venv: String, setup script: String) throws -> URL {
        let python = package.appendingPathComponent(venv + "/bin/python")
        if FileManager.default.isExecutableFile(atPath: python.path) { return python }
        let inCI = ProcessInfo.processInfo.environment["CI"] != nil
        let setup = Process()
        setup.executableURL = URL(fileURLWithPath: "/bin/bash")
        setup.arguments = [package.appendingPathComponent(script).path]
        setup.standardOutput = FileHandle.nullDevice
        try setup.run()
        setup.waitUntilExit()
        if setup.terminationStatus != 0 || !FileManager.default.isExecutableFile(atPath: python.path) {
            if inCI { XCTFail("CI must provide \(venv) (.ci/run's scripts/dev.sh test runs \(script))") }
            throw XCTSkip("could not create \(venv) (is PyPI reachable?)")
        }
        return python
    }
}
