import EventLoop
import Foundation
import Redis

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
        if (config.redisCertFile == nil) != (config.redisKeyFile == nil) {
            throw ConfigError(
                "mutual TLS with Redis needs both a client certificate and its key:"
                    + " set --redis-cert-file and --redis-key-file (or neither)")
        }
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

    /// Things worth saying at start-up that are not errors.
    public static func warnings(for config: GatewayConfig) -> [String] {
        var warnings: [String] = []
        if config.redisCAFile != nil || config.redisCertFile != nil,
            let url = config.redis.flatMap({ try? RedisURL(parsing: $0) }), !url.usesTLS
        {
            warnings.append("--redis-ca-file, --redis-cert-file and --redis-key-file apply to rediss:// only: unused")
        }
        if config.publicURL == nil, let address = try? SocketAddress(parsing: config.listen), address.isWildcard {
            warnings.append(
                "listening on \(config.listen) (every interface) without a public URL: rewritten Studio URLs,"
                    + " paging included, will name http://\(config.listen), which clients cannot use; set"
                    + " --public-url (STUDIOGATE_PUBLIC_URL, public_url)"
            )
        }
        if config.retention == 0 {
            warnings.append(
                "--retention 0: no retention limit; ended executions' data (contexts, contact addresses) may be"
                    + " answered, snapshotted and shared after Twilio has deleted it")
        }
        if config.stateDir != nil, config.dataKey == nil {
            warnings.append(
                "the snapshot in --state-dir holds customer data (contexts, contact addresses) in clear; set"
                    + " --data-key to seal it")
        }
        return warnings
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
