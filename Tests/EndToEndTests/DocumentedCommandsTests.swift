import Foundation
import MockStudio
import XCTest

@testable import TestSupport

/// Every command the README and the `--demo` banner print, run as printed (through /bin/sh, with
/// real curl and the real twilio SDK) against the demo, and the answers checked.
final class DocumentedCommandsTests: XCTestCase {
    let flow = MockFixtures.flowA
    let ended = MockFixtures.endedExecutionA

    struct Ran {
        var status: Int32
        var stdout: String
        var stderr: String
        /// `curl -i` prints the response head first: split at its blank line.
        var head: String? {
            guard stdout.hasPrefix("HTTP/"), let end = stdout.range(of: "\r\n\r\n") else { return nil }
            return String(stdout[..<end.lowerBound])
        }
        var body: String {
            guard head != nil, let end = stdout.range(of: "\r\n\r\n") else { return stdout }
            return String(stdout[end.upperBound...])
        }
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
        /// A field of the head, e.g. X-Cache.
        func header(_ name: String) -> String? {
            head?.components(separatedBy: "\r\n").dropFirst().first {
                $0.lowercased().hasPrefix(name.lowercased() + ":")
            }
            .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
        }
    }

    func shell(_ command: String) throws -> Ran {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = RunningBinary.packageDirectory
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Ran(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    func requireCurl() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("CI must provide curl (.ci/run installs it)")
            }
            throw XCTSkip("curl is not installed")
        }
    }

    /// The demo's banner, as printed after the "listening on" line.
    func startDemo() throws -> (RunningBinary, String) {
        let demo = try RunningBinary("studiogate", ["--demo", "--listen", "127.0.0.1:0"])
        return (demo, demo.output(containing: "Stop with Ctrl-C."))
    }

    func testEveryCommandTheDemoBannerPrintsWorks() throws {
        try requireCurl()
        let (demo, banner) = try startDemo()
        defer { demo.stop() }
        let gateway = "http://127.0.0.1:\(demo.port)"
        // A command continued with a trailing backslash is one command, as a shell reads it.
        let lines = banner.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n")
        let printed = lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            $0.hasPrefix("curl ")
        }
        XCTAssertEqual(printed.count, 8, banner)
        var checked = 0
        // What each command's runs said in X-Cache, in order: the banner shows a MISS then a HIT.
        var outcomes: [String: [String]] = [:]
        for line in printed {
            // Run as printed (the shell drops the comment); matched without the comment.
            let ran = try shell(line)
            let command = String(line.prefix { $0 != "#" }).trimmingCharacters(in: .whitespaces)
            XCTAssertEqual(ran.status, 0, "\(command)\n\(ran.stderr)")
            if command.contains(" -i ") {
                let cache = try XCTUnwrap(ran.header("X-Cache"), "-i shows the head with X-Cache: \(ran.stdout)")
                outcomes[command, default: []].append(cache)
                if let said = line.range(of: "X-Cache: ") {
                    XCTAssertEqual(cache, String(line[said.upperBound...]), "the banner says what the head shows")
                }
            }
            let json = ran.json
            if command.contains("Executions?PageSize=3") {
                let executions = try XCTUnwrap(json?["executions"] as? [[String: Any]], ran.stdout)
                XCTAssertFalse(executions.isEmpty)
                XCTAssertLessThanOrEqual(executions.count, 3)
                let meta = try XCTUnwrap(json?["meta"] as? [String: Any])
                XCTAssertEqual(meta["page_size"] as? Int, 3)
                XCTAssertTrue(
                    (meta["url"] as? String)?.hasPrefix(gateway + "/v2/Flows/") == true,
                    "URLs point at the gateway: \(meta)")
            } else if command.contains("-X POST") {
                // Encoded: the + of an E.164 number must arrive as +, not as a space.
                XCTAssertEqual(json?["contact_channel_address"] as? String, "+15551230000", ran.stdout)
                XCTAssertTrue(ran.stdout.contains("\"+15557650000\""), ran.stdout)
                XCTAssertEqual((json?["sid"] as? String)?.hasPrefix("FN"), true)
                XCTAssertEqual(json?["status"] as? String, "active")
            } else if command.hasSuffix("/Context'") {
                XCTAssertEqual(json?["execution_sid"] as? String, ended, ran.stdout)
                XCTAssertNotNil(json?["context"] as? [String: Any])
            } else if command.hasSuffix("/Steps'") {
                XCTAssertFalse((json?["steps"] as? [Any])?.isEmpty ?? true, ran.stdout)
            } else if command.contains("/Engagements/") {
                XCTAssertEqual(json?["sid"] as? String, ended, ran.stdout)
                XCTAssertEqual(json?["url"] as? String, "\(gateway)/v1/Flows/\(flow)/Engagements/\(ended)")
            } else if command.hasSuffix("/Executions/\(ended)'") {
                XCTAssertEqual(json?["sid"] as? String, ended, ran.stdout)
                XCTAssertEqual(json?["status"] as? String, "ended")
            } else if command.hasSuffix("/metrics'") {
                XCTAssertTrue(
                    ran.body.contains("studiogate_requests_total{route=\"v2_execution\",status=\"200\""), ran.stdout)
            } else {
                XCTFail("a banner command this test does not check: \(command)")
                continue
            }
            checked += 1
        }
        XCTAssertEqual(checked, printed.count)
        XCTAssertTrue(
            outcomes.values.contains(["MISS", "HIT"]), "a command printed twice shows MISS then HIT: \(outcomes)")
    }

    /// The fenced sh and python blocks of README.md: `scripts/dev.sh demo|test` sets up (checked
    /// here: nothing is missing) and then runs `swift run studiogate --demo` or `swift test` (checked
    /// with its dry run: a `swift run` inside `swift test` would wait for the build lock); `swift run
    /// studiogate ARGS` is the built binary with ARGS and `swift test` this very run,
    /// http://127.0.0.1:8080 is the demo, FW... its flow.
    func testEveryCommandTheREADMEPrintsWorks() throws {
        let readme = try String(
            contentsOf: RunningBinary.packageDirectory.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = Self.fencedBlocks(readme)
        let shellLines = blocks.filter { $0.language == "sh" }.flatMap { $0.text.split(separator: "\n") }
            .map { String($0.prefix { $0 != "#" }).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        XCTAssertEqual(
            shellLines,
            ["scripts/dev.sh demo", "scripts/dev.sh test", "swift run studiogate probe http://127.0.0.1:8080/readyz"],
            "the README's commands changed: teach this test to run the new ones")
        let runs = ["scripts/dev.sh demo": "swift run studiogate --demo", "scripts/dev.sh test": "swift test"]
        for (line, runsNext) in runs {
            let ran = try shell("STUDIOGATE_DEV_DRY_RUN=1 \(line)")
            XCTAssertEqual(ran.status, 0, "\(line): the set-up found something missing\n\(ran.stderr)")
            XCTAssertEqual(ran.stdout.split(separator: "\n").last.map(String.init), runsNext, line)
        }
        let (demo, banner) = try startDemo()
        defer { demo.stop() }
        XCTAssertTrue(banner.contains("Demo mode"), "scripts/dev.sh demo prints the banner")
        let gateway = "http://127.0.0.1:\(demo.port)"
        let binary = RunningBinary.productsDirectory.appendingPathComponent("studiogate").path
        for line in shellLines where runs[line] == nil {
            let command = line.replacingOccurrences(of: "swift run studiogate", with: "'\(binary)'")
                .replacingOccurrences(of: "http://127.0.0.1:8080", with: gateway)
            let ran = try shell(command)
            XCTAssertEqual(ran.status, 0, "\(line)\n\(ran.stderr)")
        }

        let python = blocks.filter { $0.language == "python" }
        XCTAssertEqual(python.count, 1)
        let package = RunningBinary.packageDirectory
        let venvPython = package.appendingPathComponent(".build/sdk-venv/bin/python")
        if !FileManager.default.isExecutableFile(atPath: venvPython.path) {
            _ = try? shell("bash Tests/python/setup-venv.sh > /dev/null")
        }
        guard FileManager.default.isExecutableFile(atPath: venvPython.path) else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("CI must provide the SDK venv (.ci/run runs Tests/python/setup-venv.sh)")
            }
            throw XCTSkip("no twilio SDK venv (is PyPI reachable?)")
        }
        for block in python {
            let snippet = block.text.replacingOccurrences(of: "http://127.0.0.1:8080", with: gateway)
                .replacingOccurrences(of: "\"FW...\"", with: "\"\(flow)\"")
            // The snippet as printed, with the demo's credentials; its last expression is printed.
            let runner = """
                import ast, json, sys
                source = sys.stdin.read()
                tree = ast.parse(source)
                last = tree.body.pop()
                scope = {"account_sid": "\(MockFixtures.accountA)", "auth_token": "\(MockFixtures.tokenA)"}
                exec(compile(tree, "README.md", "exec"), scope)
                result = eval(compile(ast.Expression(last.value), "README.md", "eval"), scope)
                print(json.dumps([(item.sid, item.status) for item in result]))
                """
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID().uuidString).py")
            try Data(runner.utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let snippetFile = file.appendingPathExtension("snippet")
            try Data(snippet.utf8).write(to: snippetFile)
            defer { try? FileManager.default.removeItem(at: snippetFile) }
            let ran = try shell("'\(venvPython.path)' '\(file.path)' < '\(snippetFile.path)'")
            XCTAssertEqual(ran.status, 0, ran.stderr)
            let executions = try XCTUnwrap(
                try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [[String]], ran.stdout)
            XCTAssertFalse(executions.isEmpty)
            XCTAssertTrue(executions.allSatisfy { $0[0].hasPrefix("FN") }, ran.stdout)
            XCTAssertTrue(executions.contains { $0[0] == ended && $0[1] == "ended" }, ran.stdout)
        }
    }

    /// Item 15 as documented: v1 Engagement views share entries with v1 Execution views only.
    func testEngagementViewsShareEntriesWithV1ExecutionsOnly() throws {
        let (demo, _) = try startDemo()
        defer { demo.stop() }
        func cache(_ path: String) throws -> String? {
            try GatewayHarness.send(demo.port, "GET", path, auth: GatewayHarness.authA).header("X-Cache")
        }
        XCTAssertEqual(try cache("/v2/Flows/\(flow)/Executions/\(ended)"), "MISS")
        XCTAssertEqual(try cache("/v1/Flows/\(flow)/Engagements/\(ended)"), "MISS", "after a v2 fetch")
        XCTAssertEqual(try cache("/v1/Flows/\(flow)/Executions/\(ended)/Context"), "MISS")
        XCTAssertEqual(try cache("/v1/Flows/\(flow)/Engagements/\(ended)/Context"), "HIT", "after a v1 Execution fetch")
    }

    static func fencedBlocks(_ markdown: String) -> [(language: String, text: String)] {
        var blocks: [(String, String)] = []
        var current: (String, [Substring])? = nil
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                if let open = current {
                    blocks.append((open.0, open.1.joined(separator: "\n")))
                    current = nil
                } else {
                    current = (String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces), [])
                }
            } else if current != nil {
                current!.1.append(line)
            }
        }
        return blocks
    }
}
