import Cache
import Dispatch
import HTTP
import XCTest

@testable import Gateway
@testable import TestSupport

/// How long `GET /admin/` takes with 100,000 entries, 3,000 Engagement callers and a full rate
/// history: a measurement printed for bench/status-page.sh, never asserted (a loaded CI machine
/// would make a timed test flaky). Runs only with STATUS_PAGE_BENCH=1.
final class StatusPageRenderBenchmark: XCTestCase {
    func testRenderTime() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["STATUS_PAGE_BENCH"] == "1", "bench/status-page.sh")
        let gateway = try InProcessGateway()
        let store = gateway.gateway.store
        for n in 0..<100_000 {
            let execution = StudioBodies.execution(n)
            let entry = CachedResponse(
                status: 200, contentType: "application/json", requestID: nil, gzipBody: [1], identityLength: 1,
                account: StudioBodies.accountA, storedAt: 0, expiresAt: nil)
            store.adopt(
                CacheKey(
                    account: StudioBodies.accountA, resource: StudioBodies.path(execution),
                    group: CacheGroup(execution)!), entry)
        }
        for n in 0..<3_000 {
            gateway.gateway.engagements.record(
                .init(
                    user: "AC" + String(format: "%032x", n), userAgent: "twilio-python/9.\(n % 20).0",
                    route: RouteLabel.engagementRoutes[n % RouteLabel.engagementRoutes.count]), at: Double(n))
        }
        for n in 1...61 {
            gateway.gateway.history.add(
                .init(at: Double(n) * 10 + 1_000, requests: n * 900, hits: n * 800, lookups: n * 850))
        }
        let admin = AdminHandler(gateway: gateway.gateway, token: nil)
        let request = HTTPRequest(method: .get, target: "/admin/", headers: [:])
        XCTAssertEqual(store.stats.entries, 100_000)
        var times: [Double] = []
        var size = 0
        for _ in 0..<21 {
            let start = DispatchTime.now().uptimeNanoseconds
            size = admin.answer(request).body.count
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        times.sort()
        var split: [(Double, Double)] = []
        for _ in 0..<11 {
            let start = DispatchTime.now().uptimeNanoseconds
            let figures = StatusFigures(gateway.gateway.administration)
            let gathered = DispatchTime.now().uptimeNanoseconds
            _ = StatusPage.render(figures)
            let rendered = DispatchTime.now().uptimeNanoseconds
            split.append((Double(gathered - start) / 1e6, Double(rendered - gathered) / 1e6))
        }
        split.sort { $0.0 + $0.1 < $1.0 + $1.1 }
        print("status page: gathering \(split[5].0) ms, rendering \(split[5].1) ms")
        print(
            "status page: 100000 entries, 3000 callers, \(size) bytes: median \(times[10]) ms, max \(times[20]) ms")
    }
}
