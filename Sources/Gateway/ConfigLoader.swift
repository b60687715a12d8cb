import EventLoop
import Foundation
import Redis
import Studio

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Builds a `GatewayConfig` from a JSON file, `STUDIOGATE_*` environment variables and flags,
/// each overriding the one before (flags > env > file > defaults).
public enum ConfigLoader {
    struct Setting: Sendable {
        enum Kind: Sendable {
            /// Takes a value: `--name VALUE` or `--name=VALUE`.
            case value
            /// A boolean: `--name` alone is true; `--name=VALUE`, the env variable and the file key
            /// take the one boolean rule (`ConfigLoader.boolean`).
            case boolean
        }

        let name: String
        let placeholder: String
        let help: String
        var kind = Kind.value
        /// Errors name no source: `load` prefixes the flag, the variable, or the key and file.
        let apply: @Sendable (inout GatewayConfig, String) throws(ConfigError) -> Void

        init(
            name: String, placeholder: String, help: String, kind: Kind = .value,
            apply: @escaping @Sendable (inout GatewayConfig, String) throws(ConfigError) -> Void
        ) {
            self.name = name
            self.placeholder = placeholder
            self.help = help
            self.kind = kind
            self.apply = apply
        }

        var flag: String { "--" + name }
        var environmentName: String { "STUDIOGATE_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }
        var fileKey: String { name.replacingOccurrences(of: "-", with: "_") }
    }

    /// Where a value came from, as the user wrote it: errors name this, never a flag not typed.
    enum Source {
        case flag(String)
        case environment(String)
        case file(key: String, path: String)

        var label: String {
            switch self {
            case .flag(let flag): flag
            case .environment(let name): "environment variable \(name)"
            case .file(let key, let path): "'\(key)' in \(path)"
            }
        }
    }

    /// The placeholders the shipped examples once carried, refused as admin tokens whatever their length.
    static let placeholderTokenPrefixes = ["change-me", "changeme", "replace-with", "replace-me", "your-token"]
    static let minimumAdminTokenBytes = 32

    static let settings: [Setting] = [
        Setting(
            name: "demo", placeholder: "[=BOOL]",
            help: "start an embedded mock Studio as the upstream and print commands to try (default off)",
            kind: .boolean
        ) { config, value throws(ConfigError) in
            config.demo = try boolean(value)
        },
        Setting(name: "listen", placeholder: "HOST:PORT", help: "address to serve HTTP/1.1 on (default 127.0.0.1:8080)")
        { config, value throws(ConfigError) in
            do { _ = try SocketAddress(parsing: value) } catch { throw ConfigError("\(error)") }
            config.listen = value
        },
        Setting(
            name: "upstream", placeholder: "URL",
            help: "Studio origin to forward to (default https://studio.twilio.com)"
        ) { config, value throws(ConfigError) in
            config.upstream = try origin(value)
        },
        Setting(
            name: "public-url", placeholder: "URL",
            help: "origin clients use to reach the gateway, for rewritten URLs (default http://LISTEN; empty = default)"
        ) { config, value throws(ConfigError) in
            config.publicURL = value.isEmpty ? nil : try origin(value)
        },
        Setting(
            name: "active-ttl", placeholder: "SECONDS",
            help: "how long active-execution data and list pages are cached; 0 = off (default 2)"
        ) { config, value throws(ConfigError) in
            config.activeTTL = try seconds(value, allowZero: true)
        },
        Setting(
            name: "stale-if-error", placeholder: "SECONDS",
            help: "serve expired entries this long past expiry when the upstream fails (default 60)"
        ) { config, value throws(ConfigError) in
            config.staleIfError = try seconds(value, allowZero: true)
        },
        Setting(
            name: "cache-size", placeholder: "BYTES", help: "cache byte budget; K/M/G suffixes allowed (default 256M)"
        ) { config, value throws(ConfigError) in
            config.cacheSize = try bytes(value)
        },
        Setting(
            name: "auth-ttl", placeholder: "SECONDS",
            help: "how long the upstream's 2xx verifies a credential for cache hits (default 300)"
        ) { config, value throws(ConfigError) in
            config.authTTL = try seconds(value, allowZero: true)
        },
        Setting(
            name: "upstream-concurrency", placeholder: "N",
            help: "most upstream calls in flight; others queue (default 32)"
        ) { config, value throws(ConfigError) in
            guard let n = Int(value), (1...10_000).contains(n) else {
                throw ConfigError("expected 1...10000, got '\(value)'")
            }
            config.upstreamConcurrency = n
        },
        Setting(name: "threads", placeholder: "N", help: "event loop threads (default: one per core)") {
            config, value throws(ConfigError) in
            guard let n = Int(value), (1...256).contains(n) else {
                throw ConfigError("expected 1...256, got '\(value)'")
            }
            config.threads = n
        },
        Setting(
            name: "upstream-timeout", placeholder: "SECONDS",
            help: "connect + total time allowed for an upstream call (default 15)"
        ) { config, value throws(ConfigError) in
            config.upstreamTimeout = try seconds(value, allowZero: false)
        },
        Setting(
            name: "upstream-ca-file", placeholder: "PEM",
            help: "trust these CAs for the upstream's certificate instead of the system's"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty else {
                config.upstreamCAFile = nil
                return
            }  // empty: the system's CAs
            guard FileManager.default.isReadableFile(atPath: value) else {
                throw ConfigError("--upstream-ca-file: cannot read '\(value)'")
            }
            config.upstreamCAFile = value
        },
        Setting(
            name: "redis", placeholder: "URL",
            help: "share the cache with a fleet through Redis: redis://[:PASSWORD@]HOST:PORT/DB or unix:///PATH"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty else {
                config.redis = nil
                return
            }
            do { _ = try RedisURL(parsing: value) } catch { throw ConfigError("--redis: \(error)") }
            config.redis = value
        },
        Setting(
            name: "redis-password", placeholder: "SECRET",
            help: "Redis password, overriding the URL's; prefer env STUDIOGATE_REDIS_PASSWORD"
        ) { config, value throws(ConfigError) in
            config.redisPassword = value.isEmpty ? nil : value
        },
        Setting(
            name: "redis-prefix", placeholder: "TEXT",
            help: "namespace of the gateway's Redis keys (default studiogate:)"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "{" || $0 == "}" }) else {
                throw ConfigError("--redis-prefix: expected text without spaces or braces, got '\(value)'")
            }
            config.redisPrefix = value
        },
        Setting(
            name: "max-body-bytes", placeholder: "BYTES",
            help: "largest request body accepted; larger gets 413 (default 1M)"
        ) { config, value throws(ConfigError) in
            config.maxBodyBytes = try bytes(value)
        },
        Setting(
            name: "header-timeout", placeholder: "SECONDS", help: "time allowed to send a request head (default 10)"
        ) { config, value throws(ConfigError) in
            config.headerTimeout = try seconds(value, allowZero: false)
        },
        Setting(
            name: "idle-timeout", placeholder: "SECONDS",
            help: "idle keep-alive connections are closed after this (default 60)"
        ) { config, value throws(ConfigError) in
            config.idleTimeout = try seconds(value, allowZero: false)
        },
        Setting(
            name: "drain-timeout", placeholder: "SECONDS",
            help: "time in-flight requests get to finish on SIGTERM (default 10)"
        ) { config, value throws(ConfigError) in
            config.drainTimeout = try seconds(value, allowZero: true)
        },
        Setting(
            name: "state-dir", placeholder: "DIR",
            help: "keep ended entries across restarts in DIR; must be writable (default off; empty = off)"
        ) { config, value throws(ConfigError) in
            config.stateDir = value.isEmpty ? nil : value
        },
        Setting(
            name: "snapshot-interval", placeholder: "SECONDS",
            help: "how often the state dir snapshot is written (default 60)"
        ) { config, value throws(ConfigError) in
            config.snapshotInterval = try seconds(value, allowZero: false)
        },
        Setting(
            name: "admin-listen", placeholder: "HOST:PORT",
            help: "admin listener for purge/inspect/stats (default off; empty = off)"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty else {
                config.adminListen = nil
                return
            }
            do { _ = try SocketAddress(parsing: value) } catch { throw ConfigError("\(error)") }
            config.adminListen = value
        },
        Setting(
            name: "admin-token", placeholder: "TOKEN",
            help: "bearer token for the admin listener, at least 32 bytes; prefer env STUDIOGATE_ADMIN_TOKEN"
        ) { config, value throws(ConfigError) in
            guard !value.isEmpty else {
                config.adminToken = nil
                return
            }
            let lowered = value.lowercased()
            if placeholderTokenPrefixes.contains(where: { lowered.hasPrefix($0) }) {
                throw ConfigError(
                    "this is the example's placeholder, not a token; generate one, e.g. openssl rand -hex 32")
            }
            guard value.utf8.count >= minimumAdminTokenBytes else {
                throw ConfigError(
                    "use at least \(minimumAdminTokenBytes) bytes (got \(value.utf8.count)), e.g. openssl rand -hex 32")
            }
            config.adminToken = value
        },
        Setting(name: "log-level", placeholder: "LEVEL", help: "debug, info, warn or error (default info)") {
            config, value throws(ConfigError) in
            guard ["debug", "info", "warn", "error"].contains(value) else {
                throw ConfigError("expected debug, info, warn or error, got '\(value)'")
            }
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
    public static func load(
        arguments: [String], environment: [String: String],
        readFile: (String) throws -> Data = { try Data(contentsOf: URL(fileURLWithPath: $0)) }
    ) throws(ConfigError) -> Outcome {
        var flagValues: [(Setting, String, String)] = []
        var configPath = environment["STUDIOGATE_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        var configSource = "environment variable STUDIOGATE_CONFIG"
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
                configSource = "--config"
            } else if let setting = settings.first(where: { $0.flag == name }) {
                // A boolean flag alone means true; a value must be attached (`--demo=false`).
                let text = setting.kind == .boolean ? (inlineValue ?? "true") : try value()
                flagValues.append((setting, text, name))
            } else if argument == "probe" {
                throw ConfigError("'probe' must come first: studiogate probe http://HOST:PORT/PATH")
            } else if !argument.hasPrefix("-"), let previous = arguments[..<(index - 1)].last,
                settings.contains(where: { $0.flag == previous && $0.kind == .boolean })
            {
                throw ConfigError("unexpected '\(argument)' after \(previous): write \(previous)=\(argument)")
            } else {
                throw ConfigError("unknown option '\(argument)' (see --help)")
            }
        }

        var config = GatewayConfig()
        if let configPath { try applyFile(configPath, source: configSource, to: &config, readFile: readFile) }
        for setting in settings {
            if let value = environment[setting.environmentName] {
                try apply(setting, value, from: .environment(setting.environmentName), to: &config)
            }
        }
        for (setting, value, flag) in flagValues { try apply(setting, value, from: .flag(flag), to: &config) }
        if let admin = config.adminListen, config.adminToken == nil,
            !((try? SocketAddress(parsing: admin))?.isLoopback ?? false)
        {
            throw ConfigError(
                "admin listener \(admin) is not on loopback: it needs an admin token"
                    + " (STUDIOGATE_ADMIN_TOKEN, --admin-token or admin_token)"
            )
        }
        return .run(config)
    }

    static func apply(_ setting: Setting, _ value: String, from source: Source, to config: inout GatewayConfig)
        throws(ConfigError)
    {
        do { try setting.apply(&config, value) } catch { throw ConfigError("\(source.label): \(error.description)") }
    }

    static func applyFile(
        _ path: String, source: String = "--config", to config: inout GatewayConfig, readFile: (String) throws -> Data
    ) throws(ConfigError) {
        let data: Data
        do { data = try readFile(path) } catch {
            throw ConfigError("cannot read the config file \(path) (from \(source))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError("config file \(path) is not a JSON object")
        }
        for (key, raw) in object.sorted(by: { $0.key < $1.key }) {
            if key.hasPrefix("_") { continue }  // "_comment" keys document the file
            guard let setting = settings.first(where: { $0.fileKey == key }) else {
                throw ConfigError("unknown key '\(key)' in \(path)")
            }
            let value: String
            switch raw {
            case let number as NSNumber where isJSONBoolean(number):
                guard setting.kind == .boolean else {
                    throw ConfigError(
                        "\(Source.file(key: key, path: path).label): expected a string or a number,"
                            + " got JSON \(number.boolValue)"
                    )
                }
                value = number.boolValue ? "true" : "false"
            case let text as String: value = text
            case let number as NSNumber: value = number.stringValue
            default: throw ConfigError("\(Source.file(key: key, path: path).label): must be a string or a number")
            }
            try apply(setting, value, from: .file(key: key, path: path), to: &config)
        }
    }

    /// JSON `true`/`false` (JSONSerialization hands them over as NSNumber, like 1 and 0).
    static func isJSONBoolean(_ number: NSNumber) -> Bool {
        String(describing: type(of: number)).contains("Boolean") || String(cString: number.objCType) == "c"
    }

    /// The one rule for every boolean, in flags (`--demo=VALUE`), env and file: true, false, 1, 0,
    /// yes, no, on, off (any case; JSON true/false too). Anything else is an error.
    static func boolean(_ value: String) throws(ConfigError) -> Bool {
        switch value.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigError("expected true/false, 1/0, yes/no or on/off, got '\(value)'")
        }
    }

    /// Things worth saying at start-up that are not errors.
    public static func warnings(for config: GatewayConfig) -> [String] {
        var warnings: [String] = []
        if config.publicURL == nil, let address = try? SocketAddress(parsing: config.listen), address.isWildcard {
            warnings.append(
                "listening on \(config.listen) (every interface) without a public URL: rewritten Studio URLs,"
                    + " paging included, will name http://\(config.listen), which clients cannot use; set"
                    + " --public-url (STUDIOGATE_PUBLIC_URL, public_url)"
            )
        }
        return warnings
    }

    static func origin(_ value: String) throws(ConfigError) -> String {
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil
        else { throw ConfigError("expected an http(s) origin like https://studio.twilio.com, got '\(value)'") }
        return URLRewrite.trimmedOrigin(value)
    }

    static func seconds(_ value: String, allowZero: Bool) throws(ConfigError) -> Double {
        guard let number = Double(value), number.isFinite, allowZero ? number >= 0 : number > 0 else {
            throw ConfigError("expected a number of seconds\(allowZero ? "" : " above 0"), got '\(value)'")
        }
        return number
    }

    /// A byte count with an optional K/M/G (binary) suffix: `1048576`, `512K`, `256M`, `1G`, `64MiB`.
    static func bytes(_ value: String) throws(ConfigError) -> Int {
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
            throw ConfigError("expected a byte count like 1048576 or 256M, got '\(value)'")
        }
        return number * multiplier
    }

    public static var usage: String {
        var lines = [
            "usage: studiogate [--demo] [--config FILE] [options]",
            "       studiogate probe http://HOST:PORT/PATH [--timeout SECONDS]"
                + "   (health check: exit 0 on 2xx, 1 otherwise)",
            "",
            "A caching gateway for Twilio Studio's REST API. Options (also STUDIOGATE_<NAME> env vars",
            "and snake_case keys in the --config JSON file; flags > env > file). Booleans everywhere:",
            "true/false, 1/0, yes/no, on/off; a boolean flag alone means true (--demo), else --demo=false.",
            "",
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
