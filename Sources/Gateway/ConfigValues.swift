import Foundation
import Studio

/// How the text of a flag, environment variable or file value becomes a value, one rule per kind
/// wherever it came from.
extension ConfigLoader {
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

    static func origin(_ value: String) throws(ConfigError) -> String {
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil
        else { throw ConfigError("expected an http(s) origin like https://studio.twilio.com, got '\(value)'") }
        return URLRewrite.trimmedOrigin(value)
    }

    /// A path the gateway can read now (its contents are not looked at here, nor ever logged);
    /// empty is nil.
    static func readableFile(_ value: String) throws(ConfigError) -> String? {
        guard !value.isEmpty else { return nil }
        guard FileManager.default.isReadableFile(atPath: value) else { throw ConfigError("cannot read '\(value)'") }
        return value
    }

    /// A time setting: seconds as a plain number (`15`, `0.5`) or a number with one unit: `ms`,
    /// `s`, `m`, `h` or `d` (`250ms`, `2s`, `5m`, `12h`, `30d`). Anything else is one error.
    static func seconds(_ value: String, allowZero: Bool) throws(ConfigError) -> Double {
        guard let number = duration(value), number.isFinite, allowZero ? number >= 0 : number > 0 else {
            throw ConfigError(
                "expected a duration: seconds or a number with ms, s, m, h or d (250ms, 2s, 5m, 12h, 30d)"
                    + "\(allowZero ? "" : " above 0"), got '\(value)'")
        }
        return number
    }

    private static func duration(_ value: String) -> Double? {
        let units: [(suffix: String, seconds: Double)] = [
            ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400),
        ]
        for unit in units where value.hasSuffix(unit.suffix) {
            let number = value.dropLast(unit.suffix.count)
            // Digits and one point only: "1e3s", "-2s", " 2s" and "inf" are not durations.
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let parsed = Double(number)
            else { return nil }
            return parsed * unit.seconds
        }
        return Double(value)
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
}
