import Auth
import Cache
import Foundation
import HTTP
import Studio
import XCTest

@testable import Gateway
@testable import TestSupport

final class RequestCountsTests: XCTestCase {
    /// Every slot counts one label and every label with a usual status has a slot.
    func testSlotsAndLabelsAreOneToOne() {
        var seen = Set<RequestCounts.Label>()
        for slot in 0..<RequestCounts.slots {
            let label = RequestCounts.label(at: slot)
            XCTAssertEqual(RequestCounts.slot(label), slot)
            XCTAssertTrue(seen.insert(label).inserted, "\(label)")
        }
        XCTAssertNil(RequestCounts.slot(.init(route: .unmatched, status: 418, cache: nil)))
        XCTAssertEqual(RouteLabel.count, 30)
        XCTAssertEqual(RouteLabel(code: RouteLabel.count - 1).name, "v2_flow_admin")
    }

    /// Answers counted on two loops, off any loop and under rare statuses read back as one sum.
    func testEveryLoopsCountsAreSummedWhenRead() throws {
        let gateway = try InProcessGateway(loops: 2)
        let telemetry = gateway.gateway.telemetry
        let loops = gateway.group.loops
        var expected: [RequestCounts.Label: Int] = [:]
        let statuses: [HTTPStatus] = [200, 404, 418, 504, 599, 304]
        let outcomes: [CacheOutcome?] = [nil, .hit, .fleetHit, .miss, .stale, .bypass]
        for code in 0..<RouteLabel.count {
            for (index, status) in statuses.enumerated() {
                let label = RequestCounts.Label(
                    route: RouteLabel(code: code), status: status, cache: outcomes[(code + index) % outcomes.count])
                for repeat_ in 0...(code % 3) {
                    let loop = (code + repeat_) % 2
                    gateway.onLoop(loop) {
                        let counters = telemetry.counters(on: loops[loop])
                        telemetry.record(
                            route: label.route, status: label.status, cache: label.cache, seconds: 0.002, in: counters)
                        counters.add(.hits)
                    }
                }
                expected[label, default: 0] += code % 3 + 1
            }
        }
        telemetry.record(route: .unmatched, status: 400, cache: .bypass, seconds: nil, in: telemetry.unlooped)
        telemetry.unlooped.add(.hits)
        expected[.init(route: .unmatched, status: 400, cache: .bypass), default: 0] += 1
        XCTAssertEqual(telemetry.requestCounts, expected)
        let answers = expected.values.reduce(0, +)
        XCTAssertEqual(telemetry.total(.hits), answers)
        let metrics = telemetry.renderMetrics(gateway.gateway.administration.gauges)
        XCTAssertTrue(metrics.contains("studiogate_request_duration_seconds_count \(answers - 1)\n"), metrics)
        XCTAssertTrue(metrics.contains("studiogate_request_duration_seconds_bucket{le=\"0.001\"} 0\n"))
        XCTAssertTrue(metrics.contains("studiogate_request_duration_seconds_bucket{le=\"0.0025\"} \(answers - 1)\n"))
        XCTAssertTrue(metrics.contains("studiogate_cache_requests_total{result=\"hit\"} \(answers)\n"))
        let lines = metrics.split(separator: "\n").filter { $0.hasPrefix("studiogate_requests_total{") }
        XCTAssertEqual(lines.count, expected.count)
    }
}
