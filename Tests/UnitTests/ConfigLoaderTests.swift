import Foundation
import XCTest

@testable import Gateway
@testable import TestSupport

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
        let file =
            #"{"_comment": "x", "listen": "127.0.0.1:1000", "active_ttl": 5, "upstream_timeout": 3, "log_level": "warn"}"#
        let env = ["STUDIOGATE_LISTEN": "127.0.0.1:2000", "STUDIOGATE_ACTIVE_TTL": "7", "STUDIOGATE_CONFIG": "/x.json"]
        let config = try load(
            ["--listen", "127.0.0.1:3000", "--public-url=https://gw.internal/"], env: env, file: file)
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
            XCTAssertThrowsError(
                try ConfigLoader.load(
                    arguments: arguments, environment: [:], readFile: { _ in throw CocoaError(.fileNoSuchFile) }),
                "\(arguments)"
            ) { error in
                XCTAssertFalse((error as? ConfigError)?.description.contains("\n") ?? true)
            }
        }
        XCTAssertThrowsError(try load(["--config", "f"], file: #"{"no_such_key": 1}"#))
        XCTAssertThrowsError(try load(["--config", "f"], file: "[1]"))
        XCTAssertThrowsError(try load([], env: ["STUDIOGATE_THREADS": "many"]))
    }

    func testHelpListsEverySetting() throws {
        guard case .help(let text) = try ConfigLoader.load(arguments: ["--help"], environment: [:]) else {
            return XCTFail()
        }
        for setting in ConfigLoader.settings { XCTAssertTrue(text.contains(setting.flag), setting.flag) }
        XCTAssertTrue(text.contains("--demo"))
        XCTAssertTrue(text.contains("--config"))
    }

    /// README.md's configuration table: one row per setting `--help` lists (and `--config`), each
    /// with its environment variable, and nothing else.
    func testREADMEsConfigurationTableHasEverySetting() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let readme = try String(contentsOf: url, encoding: .utf8)
        // | `--flag PLACEHOLDER` | `STUDIOGATE_X` | default | meaning |
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| `--") }.map { row in
            row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        var documented: [String: String] = [:]
        for cells in rows {
            let flag = String(cells[0].dropFirst().prefix { $0 != " " && $0 != "[" && $0 != "`" })
            XCTAssertNil(documented[flag], "\(flag) has two rows")
            documented[flag] = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
        }
        var expected = ["--config": "STUDIOGATE_CONFIG"]
        for setting in ConfigLoader.settings { expected[setting.flag] = setting.environmentName }
        XCTAssertEqual(
            Set(expected.keys).subtracting(documented.keys).sorted(), [], "settings missing from README's table")
        XCTAssertEqual(Set(documented.keys).subtracting(expected.keys).sorted(), [], "rows for no setting")
        for (flag, environment) in expected where documented[flag] != nil {
            XCTAssertEqual(documented[flag], environment, flag)
        }
    }

    func testExampleConfigFileLoadsAndDocumentsEveryKey() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("config/studiogate.example.json")
        let data = try Data(contentsOf: url)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        for setting in ConfigLoader.settings {
            XCTAssertNotNil(object["_" + setting.fileKey], "example config does not document \(setting.fileKey)")
            if setting.fileKey != "threads" {
                XCTAssertNotNil(object[setting.fileKey], "example config lacks \(setting.fileKey)")
            }
        }
        // Copying the example turns on no optional feature and pins nothing.
        XCTAssertNil(object["threads"], "the example must not pin threads")
        let config = try load(["--config", url.path], file: String(decoding: data, as: UTF8.self))
        XCTAssertNil(config.adminListen)
        XCTAssertNil(config.adminToken)
        XCTAssertNil(config.stateDir)
        XCTAssertFalse(config.demo)
        XCTAssertEqual(config.threads, GatewayConfig().threads)
    }

    func message(_ arguments: [String], env: [String: String] = [:], file: String? = nil) -> String {
        do {
            _ = try load(arguments, env: env, file: file)
            return "no error"
        } catch {
            return (error as? ConfigError)?.description ?? "\(error)"
        }
    }

    /// Issue 19 item 9: an error names what the user wrote: the flag, the variable, or the key and file.
    func testErrorsNameTheFlagTheVariableOrTheKeyAndFile() {
        XCTAssertEqual(
            message(["--config", "/etc/sg.json"], file: #"{"active_ttl":"abc"}"#),
            "'active_ttl' in /etc/sg.json: \(Self.durationError), got 'abc'")
        XCTAssertEqual(
            message(["--config", "/etc/sg.json"], file: #"{"log_level": true}"#),
            "'log_level' in /etc/sg.json: expected a string or a number, got JSON true")
        XCTAssertEqual(
            message([], env: ["STUDIOGATE_ACTIVE_TTL": "abc"]),
            "environment variable STUDIOGATE_ACTIVE_TTL: \(Self.durationError), got 'abc'")
        XCTAssertEqual(message(["--active-ttl=abc"]), "--active-ttl: \(Self.durationError), got 'abc'")
        XCTAssertEqual(
            message([], env: ["STUDIOGATE_CONFIG": "/nope.json"]),
            "cannot read the config file /nope.json (from environment variable STUDIOGATE_CONFIG)")
        XCTAssertFalse(message(["--config", "f"], file: #"{"upstream": "ftp://x"}"#).contains("--upstream"))
    }

    static let durationError =
        "expected a duration: seconds or a number with ms, s, m, h or d (250ms, 2s, 5m, 12h, 30d)"

    /// Issue 27: every time setting takes seconds or one suffixed duration, from flags, env and file alike.
    func testEveryTimeSettingTakesSecondsOrASuffixedDuration() throws {
        for (text, seconds) in [
            ("15", 15.0), ("0.5", 0.5), ("250ms", 0.25), ("2s", 2), ("5m", 300), ("12h", 43_200),
            ("30d", 2_592_000), ("1.5h", 5400),
        ] {
            XCTAssertEqual(try load(["--active-ttl=\(text)"]).activeTTL, seconds, text)
            XCTAssertEqual(try load([], env: ["STUDIOGATE_RETENTION": text]).retention, seconds, text)
        }
        let config = try load(
            [
                "--auth-ttl=5m", "--stale-if-error=1h", "--upstream-timeout=250ms", "--header-timeout=2s",
                "--idle-timeout=1m", "--drain-timeout=0s", "--snapshot-interval=30s",
            ])
        XCTAssertEqual(config.authTTL, 300)
        XCTAssertEqual(config.staleIfError, 3600)
        XCTAssertEqual(config.upstreamTimeout, 0.25)
        XCTAssertEqual(config.headerTimeout, 2)
        XCTAssertEqual(config.idleTimeout, 60)
        XCTAssertEqual(config.drainTimeout, 0)
        XCTAssertEqual(config.snapshotInterval, 30)
        XCTAssertEqual(try load(["--config", "f"], file: #"{"retention": "1m"}"#).retention, 60)
        XCTAssertEqual(try load(["--config", "f"], file: #"{"retention": 90}"#).retention, 90)
        for bad in ["abc", "5 m", "5min", "-2s", "1e3s", "s", "ms", "2w", "inf", "nans", "", "2S"] {
            XCTAssertEqual(message(["--retention=\(bad)"]), "--retention: \(Self.durationError), got '\(bad)'", bad)
        }
        XCTAssertEqual(
            message(["--upstream-timeout=0s"]), "--upstream-timeout: \(Self.durationError) above 0, got '0s'")
        XCTAssertEqual(try load([]).retention, 30 * 86_400)
        XCTAssertEqual(try load(["--retention=0"]).retention, 0)
    }

    /// Item 11: one boolean rule for flags, env and file; anything else is an error.
    func testBooleansFollowOneRuleEverywhere() throws {
        for (text, expected) in [
            ("true", true), ("1", true), ("yes", true), ("on", true), ("ON", true),
            ("false", false), ("0", false), ("no", false), ("off", false), ("Off", false),
        ] {
            XCTAssertEqual(try load(["--demo=\(text)"]).demo, expected, "--demo=\(text)")
            XCTAssertEqual(try load([], env: ["STUDIOGATE_DEMO": text]).demo, expected, "STUDIOGATE_DEMO=\(text)")
            XCTAssertEqual(try load(["--config", "f"], file: #"{"demo": "\#(text)"}"#).demo, expected, "demo: \(text)")
        }
        XCTAssertTrue(try load(["--demo"]).demo)
        XCTAssertTrue(try load(["--config", "f"], file: #"{"demo": true}"#).demo)
        XCTAssertFalse(try load(["--config", "f"], file: #"{"demo": false}"#).demo)
        XCTAssertFalse(try load(["--demo=false"], env: ["STUDIOGATE_DEMO": "on"]).demo, "the flag beats the env")
        XCTAssertEqual(
            message([], env: ["STUDIOGATE_DEMO": "maybe"]),
            "environment variable STUDIOGATE_DEMO: expected true/false, 1/0, yes/no or on/off, got 'maybe'")
        XCTAssertEqual(message(["--demo=2"]), "--demo: expected true/false, 1/0, yes/no or on/off, got '2'")
        XCTAssertEqual(message(["--demo", "false"]), "unexpected 'false' after --demo: write --demo=false")
        XCTAssertTrue(
            message(["--config", "f"], file: #"{"demo": "sure"}"#).hasPrefix("'demo' in f: expected true/false"))
    }

    /// Items 10 and 12: empty means off for the optional features; admin tokens are real tokens.
    func testEmptyMeansOffAndAdminTokensMustBeRealTokens() throws {
        XCTAssertNil(try load(["--config", "f"], file: #"{"state_dir": ""}"#).stateDir)
        XCTAssertNil(try load(["--state-dir", "/x"], env: [:]).adminListen)
        XCTAssertNil(try load([], env: ["STUDIOGATE_STATE_DIR": ""]).stateDir)
        XCTAssertNil(
            try load(["--config", "f"], file: #"{"admin_listen": "", "admin_token": "", "public_url": ""}"#).adminListen
        )
        let token = String(repeating: "a1", count: 16)
        XCTAssertEqual(try load(["--admin-token", token]).adminToken, token)
        XCTAssertEqual(
            message(["--admin-token", String(token.dropLast())]),
            "--admin-token: use at least 32 bytes (got 31), e.g. openssl rand -hex 32")
        for placeholder in ["change-me-to-a-long-random-token", "replace-with-a-long-random-token-please"] {
            XCTAssertEqual(
                message([], env: ["STUDIOGATE_ADMIN_TOKEN": placeholder]),
                "environment variable STUDIOGATE_ADMIN_TOKEN: this is the example's placeholder, not a token; generate one, e.g. openssl rand -hex 32"
            )
        }
        XCTAssertTrue(message(["--admin-listen", "0.0.0.0:9090"]).contains("needs an admin token"))
    }

    /// Item 5: a wildcard listen address without a public URL is warned about at start.
    func testWildcardListenWithoutPublicURLIsWarnedAbout() throws {
        XCTAssertEqual(ConfigLoader.warnings(for: try load(["--listen", "0.0.0.0:8080"])).count, 1)
        XCTAssertTrue(
            ConfigLoader.warnings(for: try load(["--listen", "[::]:8080"])).first?.contains("--public-url") == true)
        XCTAssertEqual(
            ConfigLoader.warnings(
                for: try load(["--listen", "0.0.0.0:8080", "--public-url", "http://localhost:8080"])), [])
        XCTAssertEqual(ConfigLoader.warnings(for: try load(["--listen", "127.0.0.1:8080"])), [])
    }

    /// Issue 26: the rediss:// files. Paths are checked at start-up (readable), certificate and key
    /// go together, empty is the system store; the files' contents are never read here.
    func testRedisTLSFilesMustBeReadableAndTheCertificateNeedsItsKey() throws {
        let readable = #filePath
        let config = try load(
            ["--redis", "rediss://:pw@cache:6380", "--redis-cert-file", readable, "--redis-key-file", readable],
            env: ["STUDIOGATE_REDIS_CA_FILE": readable])
        XCTAssertEqual(config.redisCAFile, readable)
        XCTAssertEqual(config.redisCertFile, readable)
        XCTAssertEqual(config.redisKeyFile, readable)
        XCTAssertEqual(ConfigLoader.warnings(for: config), [])
        XCTAssertNil(try load(["--redis-ca-file", ""]).redisCAFile, "empty: the system store")
        XCTAssertNil(try load(["--config", "f"], file: #"{"redis_ca_file": ""}"#).redisCAFile)
        XCTAssertEqual(
            message(["--redis-ca-file", "/nonexistent/ca.pem"]), "--redis-ca-file: cannot read '/nonexistent/ca.pem'")
        XCTAssertEqual(
            message([], env: ["STUDIOGATE_REDIS_KEY_FILE": "/nonexistent/k.pem"]),
            "environment variable STUDIOGATE_REDIS_KEY_FILE: cannot read '/nonexistent/k.pem'")
        let pairing =
            "mutual TLS with Redis needs both a client certificate and its key:"
            + " set --redis-cert-file and --redis-key-file (or neither)"
        XCTAssertEqual(message(["--redis-cert-file", readable]), pairing)
        XCTAssertEqual(message(["--config", "f"], file: #"{"redis_key_file": "\#(readable)"}"#), pairing)
        XCTAssertEqual(
            ConfigLoader.warnings(for: try load(["--redis", "redis://cache", "--redis-ca-file", readable])),
            ["--redis-ca-file, --redis-cert-file and --redis-key-file apply to rediss:// only: unused"])
    }
}
