import Foundation
@testable import Gateway
import XCTest

final class ConfigLoaderTests: XCTestCase {
    func load(_ arguments: [String], env: [String: String] = [:], file: String? = nil) throws -> GatewayConfig {
        let outcome = try ConfigLoader.load(arguments: arguments, environment: env) { _ in
            guard let file else { throw CocoaError(.fileNoSuchFile) }
            return Data(file.utf8)
        }
        guard case .run(let config) = outcome else { throw ConfigError("not a run outcome") }
        return config
    }

    func testDefaults() throws {
        let config = try load([])
        XCTAssertEqual(config.listen, "127.0.0.1:8080")
        XCTAssertEqual(config.upstream, "https://studio.twilio.com")
        XCTAssertEqual(config.activeTTL, 2)
        XCTAssertEqual(config.upstreamTimeout, 15)
        XCTAssertEqual(config.effectivePublicURL, "http://127.0.0.1:8080")
        XCTAssertFalse(config.demo)
    }

    func testFlagsBeatEnvironmentWhichBeatsTheFile() throws {
        let file = #"{"_comment": "x", "listen": "127.0.0.1:1000", "active_ttl": 5, "upstream_timeout": 3, "log_level": "warn"}"#
        let env = ["STUDIOGATE_LISTEN": "127.0.0.1:2000", "STUDIOGATE_ACTIVE_TTL": "7", "STUDIOGATE_CONFIG": "/x.json"]
        let config = try load(["--listen", "127.0.0.1:3000", "--public-url=https://gw.internal/"], env: env, file: file)
        XCTAssertEqual(config.listen, "127.0.0.1:3000")
        XCTAssertEqual(config.activeTTL, 7)
        XCTAssertEqual(config.upstreamTimeout, 3)
        XCTAssertEqual(config.logLevel, "warn")
        XCTAssertEqual(config.publicURL, "https://gw.internal")
    }

    func testBadValuesAreOneLineErrors() {
        let bad: [[String]] = [
            ["--listen", "nowhere"], ["--listen"], ["--upstream", "ftp://x"], ["--upstream", "https://x/path"],
            ["--active-ttl", "-1"], ["--active-ttl", "soon"], ["--threads", "0"], ["--upstream-timeout", "0"],
            ["--log-level", "loud"], ["--frobnicate"], ["--config", "/missing.json"],
        ]
        for arguments in bad {
            XCTAssertThrowsError(try ConfigLoader.load(arguments: arguments, environment: [:], readFile: { _ in throw CocoaError(.fileNoSuchFile) }), "\(arguments)") { error in
                XCTAssertFalse((error as? ConfigError)?.description.contains("\n") ?? true)
            }
        }
        XCTAssertThrowsError(try load(["--config", "f"], file: #"{"no_such_key": 1}"#))
        XCTAssertThrowsError(try load(["--config", "f"], file: "[1]"))
        XCTAssertThrowsError(try load([], env: ["STUDIOGATE_THREADS": "many"]))
    }

    func testHelpListsEverySetting() throws {
        guard case .help(let text) = try ConfigLoader.load(arguments: ["--help"], environment: [:]) else { return XCTFail() }
        for setting in ConfigLoader.settings { XCTAssertTrue(text.contains(setting.flag), setting.flag) }
        XCTAssertTrue(text.contains("--demo"))
        XCTAssertTrue(text.contains("--config"))
    }

    func testExampleConfigFileLoadsAndDocumentsEveryKey() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/studiogate.example.json")
        let data = try Data(contentsOf: url)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        for setting in ConfigLoader.settings {
            XCTAssertNotNil(object[setting.fileKey], "example config lacks \(setting.fileKey)")
            XCTAssertNotNil(object["_" + setting.fileKey], "example config does not document \(setting.fileKey)")
        }
        _ = try load(["--config", url.path], file: String(decoding: data, as: UTF8.self))
    }
}
