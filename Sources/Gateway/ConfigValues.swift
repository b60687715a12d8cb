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
}
