import Locking
import XCTest

@testable import Redis
@testable import TestSupport

/// `--redis URL`: the forms the gateway takes, the password from the URL or the environment, and
/// clear refusals that never repeat the password.
final class RedisURLTests: XCTestCase {
    func parse(_ text: String, password: String? = nil) throws(RedisURLError) -> RedisURL {
        try RedisURL(parsing: text, password: password)
    }

    func tcp(_ host: String, _ port: UInt16 = 6379, database: Int = 0) -> RedisURL {
        RedisURL(endpoint: .tcp(host: host, port: port), database: database)
    }

    func refusal(_ text: String) -> RedisURLError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    func testTCPForms() throws {
        XCTAssertEqual(try parse("redis://localhost"), tcp("localhost"))
        XCTAssertEqual(try parse("redis://cache.internal:6380/3"), tcp("cache.internal", 6380, database: 3))
        XCTAssertEqual(try parse("redis://10.0.0.5:6379/"), tcp("10.0.0.5"))
        XCTAssertEqual(try parse("redis://[::1]:6390/4"), tcp("::1", 6390, database: 4))
        XCTAssertEqual(try parse("redis://[fd00::5]"), tcp("fd00::5"))
        XCTAssertEqual(try parse("REDIS://Redis-0.redis.svc:7000"), tcp("Redis-0.redis.svc", 7000))
    }

    func testCredentialsInTheURL() throws {
        let passwordOnly = try parse("redis://:s3cret@10.0.0.5:6379/2")
        XCTAssertNil(passwordOnly.username)
        XCTAssertEqual(passwordOnly.password?.revealed, "s3cret")
        XCTAssertEqual(passwordOnly.database, 2)
        let user = try parse("redis://gateway:s%40cr%2Ft%3A@host/1")
        XCTAssertEqual(user.username, "gateway")
        XCTAssertEqual(user.password?.revealed, "s@cr/t:")
        XCTAssertEqual(user.endpoint, .tcp(host: "host", port: 6379))
        // Unencoded '@' and '/' in a password: the last '@' ends the credentials.
        let raw = try parse("redis://:p@ss/w0rd@host:1/0")
        XCTAssertEqual(raw.password?.revealed, "p@ss/w0rd")
        XCTAssertEqual(raw.endpoint, .tcp(host: "host", port: 1))
    }

    func testUnixSockets() throws {
        XCTAssertEqual(
            try parse("unix:///var/run/redis/redis.sock"),
            RedisURL(endpoint: .unix(path: "/var/run/redis/redis.sock")))
        XCTAssertEqual(
            try parse("unix:///tmp/r.sock?db=5"),
            RedisURL(endpoint: .unix(path: "/tmp/r.sock"), database: 5))
        XCTAssertEqual(try parse("unix:///tmp/r.sock", password: "pw").password?.revealed, "pw")
    }

    func testThePasswordOverrideWins() throws {
        XCTAssertEqual(try parse("redis://:fromurl@h", password: "fromenv").password?.revealed, "fromenv")
        XCTAssertEqual(try parse("redis://h", password: "fromenv").password?.revealed, "fromenv")
        let user = try parse("redis://app@h", password: "fromenv")
        XCTAssertEqual(user.username, "app")
        XCTAssertEqual(user.password?.revealed, "fromenv")
    }

    /// Issue 26: rediss:// takes every form redis:// does, with the same default port.
    func testRedissIsTheTCPFormOverTLS() throws {
        XCTAssertEqual(
            try parse("rediss://cache.example.com:6380/3"),
            RedisURL(endpoint: .tcp(host: "cache.example.com", port: 6380), database: 3, usesTLS: true))
        XCTAssertEqual(try parse("REDISS://cache").endpoint, .tcp(host: "cache", port: 6379))
        let user = try parse("rediss://app:p%40ss@10.0.0.5:6380")
        XCTAssertEqual(user.username, "app")
        XCTAssertEqual(user.password?.revealed, "p@ss")
        XCTAssertTrue(user.usesTLS)
        XCTAssertEqual(try parse("rediss://:pw@[::1]").endpoint, .tcp(host: "::1", port: 6379))
        XCTAssertEqual(try parse("rediss://:pw@h", password: "fromenv").password?.revealed, "fromenv")
        XCTAssertFalse(try parse("redis://cache").usesTLS)
        XCTAssertEqual(user.description, "rediss://app:***@10.0.0.5:6380")
        XCTAssertEqual(refusal("rediss://"), .missingHost)
        XCTAssertEqual(refusal("rediss://h:0"), .invalidPort)
        XCTAssertEqual(refusal("rediss://app@h"), .userWithoutPassword)
        XCTAssertEqual(refusal("rediss://h?tls=1"), .unexpectedPart("query parameters (use /db for the database)"))
    }

    func testOtherFormsAreRefusedWithAReason() {
        XCTAssertEqual(refusal("http://cache:6379"), .unsupportedScheme)
        XCTAssertEqual(refusal("valkey://cache"), .unsupportedScheme)
        XCTAssertEqual(refusal("localhost:6379"), .notAURL)
        XCTAssertEqual(refusal("redis://"), .missingHost)
        XCTAssertEqual(refusal("redis://:pw@"), .missingHost)
        XCTAssertEqual(refusal("redis://h:0"), .invalidPort)
        XCTAssertEqual(refusal("redis://h:70000"), .invalidPort)
        XCTAssertEqual(refusal("redis://h:"), .invalidPort)
        XCTAssertEqual(refusal("redis://h:6379x"), .invalidPort)
        XCTAssertEqual(refusal("redis://[::1"), .invalidHost)
        XCTAssertEqual(refusal("redis://ho st"), .invalidHost)
        XCTAssertEqual(refusal("redis://h/x"), .invalidDatabase)
        XCTAssertEqual(refusal("redis://h/-1"), .invalidDatabase)
        XCTAssertEqual(refusal("redis://h/1/2"), .invalidDatabase)
        XCTAssertEqual(refusal("redis://h?db=1"), .unexpectedPart("query parameters (use /db for the database)"))
        XCTAssertEqual(refusal("redis://h#x"), .unexpectedPart("a fragment (#)"))
        XCTAssertEqual(refusal("redis://app@h"), .userWithoutPassword)
        XCTAssertEqual(refusal("redis://a:%zz@h"), .invalidPercentEncoding("password"))
        XCTAssertEqual(refusal("unix://relative/path"), .relativeSocketPath)
        XCTAssertEqual(refusal("unix:///" + String(repeating: "d", count: 107)), .socketPathTooLong)
        XCTAssertEqual(
            refusal("unix:///tmp/r.sock?password=x"),
            .unexpectedPart("a query parameter other than db= (the password comes from the environment)"))
        XCTAssertEqual(refusal("unix:///tmp/r.sock?db=x"), .invalidDatabase)
    }

    func testThePasswordNeverPrints() throws {
        let urls = [
            try parse("redis://app:hunter2@cache:6379/2"), try parse("redis://:hunter2@[::1]"),
            try parse("unix:///tmp/r.sock?db=1", password: "hunter2"),
            try parse("redis://h", password: "hunter2"),
        ]
        for url in urls {
            let client = RedisClient(url: url)
            for text in [
                url.description, String(reflecting: url), "\(url)", dumped(url), dumped(client.url),
                String(describing: client.url), "\(url.password as Any)",
            ] {
                XCTAssertFalse(text.contains("hunter2"), text)
            }
        }
        XCTAssertEqual(urls[0].description, "redis://app:***@cache:6379/2")
        XCTAssertEqual(urls[1].description, "redis://:***@[::1]:6379")
        XCTAssertEqual(urls[2].description, "unix:///tmp/r.sock?db=1 with password ***")
        XCTAssertEqual(try parse("redis://h").description, "redis://h:6379")
        // Refusals describe the problem, never the URL.
        for text in [
            "redis://a:hunter2@h:99999", "hunter2://h", "user:hunter2@host://x", "redis://a:hunter2@h?x",
            "redis://a:hunter2%zz@h", "unix://hunter2", "redis://:hunter2@",
        ] {
            let message = refusal(text).map(String.init(describing:)) ?? "accepted"
            XCTAssertFalse(message.contains("hunter2"), message)
        }
    }
}
