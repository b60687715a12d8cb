import EventLoop
import Foundation

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Builds a `GatewayConfig` from a JSON file, `STUDIOGATE_*` environment variables and flags,
/// each overriding the one before (flags > env > file > defaults).
public enum ConfigLoader {
    struct Setting: Sendable {
        let name: String
        let placeholder: String
        let help: String
        let apply: @Sendable (inout GatewayConfig, String) throws(ConfigError) -> Void

        var flag: String { "--" + name }
        var environmentName: String { "STUDIOGATE_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }
        var fileKey: String { name.replacingOccurrences(of: "-", with: "_") }
    }

    static let settings: [Setting] = [
        Setting(name: "listen", placeholder: "HOST:PORT", help: "address to serve HTTP/1.1 on (default 127.0.0.1:8080)") { config, value throws(ConfigError) in
            do { _ = try SocketAddress(parsing: value) } catch { throw ConfigError("--listen: \(error)") }
            config.listen = value
        },
        Setting(name: "upstream", placeholder: "URL", help: "Studio origin to forward to (default https://studio.twilio.com)") { config, value throws(ConfigError) in
            config.upstream = try origin(value, flag: "--upstream")
        },
        Setting(name: "public-url", placeholder: "URL", help: "origin clients use to reach the gateway, for rewritten URLs (default http://LISTEN)") { config, value throws(ConfigError) in
            config.publicURL = try origin(value, flag: "--public-url")
        },
        Setting(name: "active-ttl", placeholder: "SECONDS", help: "how long active-execution data and list pages are cached; 0 = off (default 2)") { config, value throws(ConfigError) in
            config.activeTTL = try seconds(value, flag: "--active-ttl", allowZero: true)
        },
        Setting(name: "stale-if-error", placeholder: "SECONDS", help: "serve expired entries this long past expiry when the upstream fails (default 60)") { config, value throws(ConfigError) in
            config.staleIfError = try seconds(value, flag: "--stale-if-error", allowZero: true)
        },
        Setting(name: "cache-size", placeholder: "BYTES", help: "cache byte budget; K/M/G suffixes allowed (default 256M)") { config, value throws(ConfigError) in
            config.cacheSize = try bytes(value, flag: "--cache-size")
        },
        Setting(name: "auth-ttl", placeholder: "SECONDS", help: "how long the upstream's 2xx verifies a credential for cache hits (default 300)") { config, value throws(ConfigError) in
            config.authTTL = try seconds(value, flag: "--auth-ttl", allowZero: true)
        },
        Setting(name: "upstream-concurrency", placeholder: "N", help: "most upstream calls in flight; others queue (default 32)") { config, value throws(ConfigError) in
            guard let n = Int(value), (1...10_000).contains(n) else { throw ConfigError("--upstream-concurrency: expected 1...10000, got '\(value)'") }
            config.upstreamConcurrency = n
        },
        Setting(name: "threads", placeholder: "N", help: "event loop threads (default: one per core)") { config, value throws(ConfigError) in
            guard let n = Int(value), (1...256).contains(n) else { throw ConfigError("--threads: expected 1...256, got '\(value)'") }
            config.threads = n
        },
        Setting(name: "upstream-timeout", placeholder: "SECONDS", help: "connect + total time allowed for an upstream call (default 15)") { config, value throws(ConfigError) in
            config.upstreamTimeout = try seconds(value, flag: "--upstream-timeout", allowZero: false)
        },
        Setting(name: "upstream-ca-file", placeholder: "PEM", help: "trust these CAs for the upstream's certificate instead of the system's") { config, value throws(ConfigError) in
            guard !value.isEmpty else { return config.upstreamCAFile = nil }  // empty: the system's CAs
            guard FileManager.default.isReadableFile(atPath: value) else { throw ConfigError("--upstream-ca-file: cannot read '\(value)'") }
            config.upstreamCAFile = value
        },
        Setting(name: "max-body-bytes", placeholder: "BYTES", help: "largest request body accepted; larger gets 413 (default 1M)") { config, value throws(ConfigError) in
            config.maxBodyBytes = try bytes(value, flag: "--max-body-bytes")
        },
        Setting(name: "header-timeout", placeholder: "SECONDS", help: "time allowed to send a request head (default 10)") { config, value throws(ConfigError) in
            config.headerTimeout = try seconds(value, flag: "--header-timeout", allowZero: false)
        },
        Setting(name: "idle-timeout", placeholder: "SECONDS", help: "idle keep-alive connections are closed after this (default 60)") { config, value throws(ConfigError) in
            config.idleTimeout = try seconds(value, flag: "--idle-timeout", allowZero: false)
        },
        Setting(name: "drain-timeout", placeholder: "SECONDS", help: "time in-flight requests get to finish on SIGTERM (default 10)") { config, value throws(ConfigError) in
            config.drainTimeout = try seconds(value, flag: "--drain-timeout", allowZero: true)
        },
        Setting(name: "state-dir", placeholder: "DIR", help: "keep ended entries across restarts in DIR (default off)") { config, value throws(ConfigError) in
            guard !value.isEmpty else { throw ConfigError("--state-dir: expected a directory") }
            config.stateDir = value
        },
        Setting(name: "snapshot-interval", placeholder: "SECONDS", help: "how often the state dir snapshot is written (default 60)") { config, value throws(ConfigError) in
            config.snapshotInterval = try seconds(value, flag: "--snapshot-interval", allowZero: false)
        },
        Setting(name: "admin-listen", placeholder: "HOST:PORT", help: "admin listener for purge/inspect/stats (default off)") { config, value throws(ConfigError) in
            do { _ = try SocketAddress(parsing: value) } catch { throw ConfigError("--admin-listen: \(error)") }
            config.adminListen = value
        },
        Setting(name: "admin-token", placeholder: "TOKEN", help: "bearer token for the admin listener; prefer env STUDIOGATE_ADMIN_TOKEN") { config, value throws(ConfigError) in
            guard value.count >= 16 else { throw ConfigError("--admin-token: use at least 16 characters") }
            config.adminToken = value
        },
        Setting(name: "log-level", placeholder: "LEVEL", help: "debug, info, warn or error (default info)") { config, value throws(ConfigError) in
            guard ["debug", "info", "warn", "error"].contains(value) else { throw ConfigError("--log-level: expected debug, info, warn or error, got '\(value)'") }
            config.logLevel = value
        },
    ]

    public enum Outcome: Equatable {
        case run(GatewayConfig)
        case help(String)
        case version(String)
    }

    /// - Parameters:
    ///   - arguments: command-line arguments without the program name.
    ///   - readFile: reads the config file (injected so tests need no files).
    public static func load(arguments: [String], environment: [String: String],
                            readFile: (String) throws -> Data = { try Data(contentsOf: URL(fileURLWithPath: $0)) }) throws(ConfigError) -> Outcome {
        var flagValues: [(Setting, String)] = []
        var configPath = environment["STUDIOGATE_CONFIG"]
        var demo = environment["STUDIOGATE_DEMO"].map { ["1", "true", "yes"].contains($0.lowercased()) } ?? false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            var (name, inlineValue) = (argument, String?.none)
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            switch name {
            case "--help", "-h": return .help(usage)
            case "--version": return .version("studiogate \(StudioGateVersion.current)")
            case "--demo": demo = true; continue
            default: break
            }
            func value() throws(ConfigError) -> String {
                if let inlineValue { return inlineValue }
                guard index < arguments.count else { throw ConfigError("\(name) needs a value") }
                index += 1
                return arguments[index - 1]
            }
            if name == "--config" {
                configPath = try value()
            } else if let setting = settings.first(where: { $0.flag == name }) {
                flagValues.append((setting, try value()))
            } else {
                throw ConfigError("unknown option '\(argument)' (see --help)")
            }
        }

        var config = GatewayConfig()
        if let configPath { try applyFile(configPath, to: &config, readFile: readFile) }
        for setting in settings {
            if let value = environment[setting.environmentName] { try setting.apply(&config, value) }
        }
        for (setting, value) in flagValues { try setting.apply(&config, value) }
        config.demo = demo
        if let admin = config.adminListen, config.adminToken == nil, !((try? SocketAddress(parsing: admin))?.isLoopback ?? false) {
            throw ConfigError("--admin-listen: a non-loopback admin listener needs --admin-token (or STUDIOGATE_ADMIN_TOKEN)")
        }
        return .run(config)
    }

    static func applyFile(_ path: String, to config: inout GatewayConfig, readFile: (String) throws -> Data) throws(ConfigError) {
        let data: Data
        do { data = try readFile(path) } catch { throw ConfigError("--config: cannot read \(path)") }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError("--config: \(path) is not a JSON object")
        }
        for (key, raw) in object.sorted(by: { $0.key < $1.key }) {
            if key.hasPrefix("_") { continue }  // "_comment" keys document the file
            guard let setting = settings.first(where: { $0.fileKey == key }) else {
                throw ConfigError("--config: unknown key '\(key)' in \(path)")
            }
            let value: String
            switch raw {
            case let text as String: value = text
            case let number as NSNumber: value = number.stringValue
            default: throw ConfigError("--config: '\(key)' must be a string or a number")
            }
            try setting.apply(&config, value)
        }
    }

    static func origin(_ value: String, flag: String) throws(ConfigError) -> String {
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil
        else { throw ConfigError("\(flag): expected an http(s) origin like https://studio.twilio.com, got '\(value)'") }
        return value.hasSuffix("/") ? String(value.dropLast()) : value
    }

    static func seconds(_ value: String, flag: String, allowZero: Bool) throws(ConfigError) -> Double {
        guard let number = Double(value), number.isFinite, allowZero ? number >= 0 : number > 0 else {
            throw ConfigError("\(flag): expected a number of seconds\(allowZero ? "" : " above 0"), got '\(value)'")
        }
        return number
    }

    /// A byte count with an optional K/M/G (binary) suffix: `1048576`, `512K`, `256M`, `1G`, `64MiB`.
    static func bytes(_ value: String, flag: String) throws(ConfigError) -> Int {
        var text = value.uppercased()
        if text.hasSuffix("IB") { text.removeLast(2) } else if text.hasSuffix("B") { text.removeLast() }
        let multiplier: Int
        switch text.last {
        case "K": multiplier = 1 << 10
        case "M": multiplier = 1 << 20
        case "G": multiplier = 1 << 30
        default: multiplier = 1
        }
        if multiplier > 1 { text.removeLast() }
        guard let number = Int(text), number >= 0, number <= Int.max / multiplier else {
            throw ConfigError("\(flag): expected a byte count like 1048576 or 256M, got '\(value)'")
        }
        return number * multiplier
    }

    public static var usage: String {
        var lines = [
            "usage: studiogate [--demo] [--config FILE] [options]",
            "",
            "A caching gateway for Twilio Studio's REST API. Options (also STUDIOGATE_<NAME> env vars",
            "and snake_case keys in the --config JSON file; flags > env > file):",
            "",
            "  --demo                      start an embedded mock Studio and print curl commands to try",
            "  --config FILE               JSON config file (env STUDIOGATE_CONFIG)",
        ]
        for setting in settings {
            let left = "  \(setting.flag) \(setting.placeholder)"
            lines.append(left.padding(toLength: max(left.count + 1, 30), withPad: " ", startingAt: 0) + setting.help)
        }
        lines += ["  --version                   print the version", "  --help                      this text"]
        return lines.joined(separator: "\n")
    }
}
