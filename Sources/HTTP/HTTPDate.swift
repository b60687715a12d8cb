import Glibc

/// IMF-fixdate for the Date header (`Sun, 06 Nov 1994 08:49:37 GMT`).
public enum HTTPDate {
    public static func format(_ time: time_t = time(nil)) -> String {
        var t = time
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
