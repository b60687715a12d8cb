import XCTest

@testable import Gateway

/// The status page from figures alone: client text escaped, secrets never shown, percentiles.
final class StatusPageTests: XCTestCase {
    func figures() -> StatusFigures {
        var figures = StatusFigures()
        figures.entries = 3
        figures.budget = 1 << 20
        figures.levels = [.init(name: "L1", hits: 2, lookups: 3)]
        figures.routes = [.init(name: "v2_execution", requests: 3, hits: 2, misses: 1)]
        let caller = EngagementCallers.Caller(
            user: "AC<script>alert(1)</script>", userAgent: "\"><script>x()</script>", route: .unmatched)
        figures.engagements = .init(
            callers: [(caller, .init(requests: 1, firstSeen: 1_800_000_000, lastSeen: 1_800_000_010))], dropped: 0,
            capacity: 10, requestsByRoute: [])
        return figures
    }

    func testClientTextIsEscapedAndNoScriptIsEmitted() {
        let html = StatusPage.render(figures())
        XCTAssertFalse(html.contains("<script"), "a client's text must never become markup")
        XCTAssertTrue(html.contains("AC&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("&quot;&gt;&lt;script&gt;x()&lt;/script&gt;"))
        XCTAssertTrue(html.contains(#"<td class="n" id="level-L1-ratio">66.7 %</td>"#))
    }

    func testSecretsAreOnlySetOrUnset() {
        var config = GatewayConfig()
        config.adminToken = "admin-secret-token"
        config.redis = "redis://user:redis-secret@127.0.0.1:6379/0"
        config.dataKey = String(repeating: "ab", count: 32)
        let settings = StatusFigures.effectiveSettings(
            config, policy: .init(activeTTL: 2, staleIfError: 60), logLevel: .info)
        var shown = figures()
        shown.settings = settings
        let html = StatusPage.render(shown)
        for secret in ["admin-secret-token", "redis-secret", config.dataKey!] {
            XCTAssertFalse(html.contains(secret), secret)
        }
        let values = Dictionary(uniqueKeysWithValues: settings.map { ($0.name, $0.value) })
        XCTAssertEqual(values["admin-token"], "set")
        XCTAssertEqual(values["data-key"], "set")
        XCTAssertEqual(values["redis-password"], "unset")
        XCTAssertEqual(values["redis"], "redis://user:***@127.0.0.1:6379")
    }

    func testPercentilesInterpolateWithinABucket() {
        let buckets = [0.001, 0.01, 0.1]
        let latency = StatusFigures.latency(.init(counts: [0, 10, 0], sum: 0.05, count: 10), buckets: buckets)
        XCTAssertEqual(latency.p50!, 0.0055, accuracy: 1e-9)
        XCTAssertNil(StatusFigures.latency(.init(counts: [0, 0, 0]), buckets: buckets).p50)
        XCTAssertEqual(StatusPage.fixed(0.05, 2), "0.05")
        XCTAssertEqual(StatusPage.fixed(12.345, 1), "12.3")
        var written = ""
        StatusPage.appendTimestamp(1_800_000_000.25, to: &written)
        XCTAssertEqual(written, Logger.timestamp(epochSeconds: 1_800_000_000.25))
    }

    func testTheHistoryKeepsItsCapacityAndPlotsDifferences() {
        let history = RateHistory(startedAt: 0, capacity: 3)
        for step in 1...5 {
            history.add(.init(at: Double(step) * 10, requests: step * 100, hits: step * 50, lookups: step * 100))
        }
        history.add(.init(at: 51, requests: 10_000, hits: 0, lookups: 0))  // within the period: not kept
        let intervals = history.intervals(now: .init(at: 55, requests: 520, hits: 260, lookups: 520))
        XCTAssertEqual(intervals.count, 3)
        XCTAssertEqual(intervals.first?.rate, 10)
        XCTAssertEqual(intervals.last?.requests, 20)
        XCTAssertEqual(intervals.last?.hitRatio, 0.5)
    }
}
