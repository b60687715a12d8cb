import Glibc
import Studio
import Synchronization

/// JSON lines on stdout: one access line per request (level info) and operational messages.
/// Lines are written with one `write(2)` each, so concurrent lines never interleave.
/// Nothing secret is ever passed in: no Authorization value, token or query string.
public final class Logger: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case debug, info, warn, error
        public init?(_ name: String) {
            switch name {
            case "debug": self = .debug
            case "info": self = .info
            case "warn": self = .warn
            case "error": self = .error
            default: return nil
            }
        }
        var name: String { ["debug", "info", "warn", "error"][rawValue] }
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    private let threshold: Atomic<Int>
    private let fd: Int32

    public init(level: Level, fd: Int32 = 1) {
        threshold = Atomic(level.rawValue)
        self.fd = fd
    }

    public var level: Level {
        get { Level(rawValue: threshold.load(ordering: .relaxed)) ?? .info }
        set { threshold.store(newValue.rawValue, ordering: .relaxed) }
    }

    public func enabled(_ level: Level) -> Bool { level.rawValue >= threshold.load(ordering: .relaxed) }

    public func log(_ level: Level, _ message: @autoclosure () -> String) {
        guard enabled(level) else { return }
        write(#"{"time":"\#(Self.timestamp())","level":"\#(level.name)","message":\#(JSONText.quoted(message()))}"#)
    }

    /// Lines an operator must always see whatever `--log-level` says (configuration reloads and
    /// their failures): written with level "notice", never filtered.
    public func notice(_ message: String) {
        write(#"{"time":"\#(Self.timestamp())","level":"notice","message":\#(JSONText.quoted(message))}"#)
    }

    struct Access {
        var method: String
        var path: String
        var status: Int
        var bytes: Int
        var durationMs: Double
        var cache: String
        var upstreamStatus: Int?
        var requestID: String?
        var identity: AccessIdentity? = nil
    }

    func access(_ entry: Access) {
        guard enabled(.info) else { return }
        let duration = (entry.durationMs * 1000).rounded() / 1000
        let upstream = entry.upstreamStatus.map(String.init) ?? "null"
        write(
            #"""
            {"time":"\#(Self.timestamp())","level":"info","method":\#(JSONText.quoted(entry.method)),\#
            "path":\#(JSONText.quoted(entry.path)),"status":\#(entry.status),"bytes":\#(entry.bytes),\#
            "duration_ms":\#(duration),"cache":"\#(entry.cache)","upstream_status":\#(upstream),\#
            "request_id":\#(JSONText.quotedOrNull(entry.requestID))\#(Self.identityFields(entry.identity))}
            """#
        )
    }

    /// `trace_id`, `caller` and `user_agent`, after the fields every line has.
    private static func identityFields(_ identity: AccessIdentity?) -> String {
        guard let identity else { return "" }
        return
            #","trace_id":\#(JSONText.quotedOrNull(identity.traceID)),"caller":\#(JSONText.quotedOrNull(identity.caller)),"#
            + #""user_agent":\#(JSONText.quotedOrNull(identity.userAgent.isEmpty ? nil : identity.userAgent))"#
    }

    private func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// RFC 3339 UTC with milliseconds, without Foundation's formatter on the request path.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return timestamp(now)
    }

    /// `epochSeconds` (the wall clock) in the same form.
    static func timestamp(epochSeconds: Double) -> String {
        let whole = epochSeconds.rounded(.down)
        return timestamp(timespec(tv_sec: Int(whole), tv_nsec: Int((epochSeconds - whole) * 1e9)))
    }

    private static func timestamp(_ now: timespec) -> String {
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let date = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
        let time = "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
        return "\(date)T\(time).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
