import HTTP
import XCTest

@testable import Cache
@testable import Studio
@testable import TestSupport

final class ResponseCacheTests: XCTestCase {
    func entry(_ size: Int, expiresAt: Double? = nil, account: String = "ACa") -> CachedResponse {
        CachedResponse(
            status: 200, contentType: "application/json", requestID: "RQ1",
            gzipBody: [UInt8](repeating: 1, count: size),
            identityLength: size, account: account, storedAt: 0, expiresAt: expiresAt)
    }

    func key(_ name: String, group: String = "FN1", account: String = "ACa") -> CacheKey {
        CacheKey(account: account, resource: "/v2/" + name, group: testGroup(group))
    }

    func testLeastRecentlyUsedIsEvictedFirstWithinTheBudget() {
        let one = entry(1000).cost(for: key("k0"))
        let cache = ResponseCache(budgetBytes: one * 3, shardCount: 1)
        cache.put(key("k0"), entry(1000))
        cache.put(key("k1"), entry(1000))
        cache.put(key("k2"), entry(1000))
        XCTAssertNotNil(cache.get(key("k0")))  // k0 is now the most recently used
        cache.put(key("k3"), entry(1000))
        XCTAssertNil(cache.get(key("k1")), "k1 was least recently used")
        XCTAssertNotNil(cache.get(key("k0")))
        XCTAssertNotNil(cache.get(key("k2")))
        XCTAssertNotNil(cache.get(key("k3")))
        XCTAssertEqual(cache.stats, ResponseCache.Stats(entries: 3, bytes: one * 3, evictions: 1))
    }

    func testBudgetHoldsUnderChurnAndOversizedEntriesAreRefused() {
        let cache = ResponseCache(budgetBytes: 50_000, shardCount: 4)
        for index in 0..<5000 {
            cache.put(key("k\(index)", group: "FN\(index % 97)"), entry(Int.random(in: 10...3000)))
        }
        XCTAssertLessThanOrEqual(cache.stats.bytes, 50_000)
        XCTAssertGreaterThan(cache.stats.evictions, 0)
        XCTAssertFalse(cache.put(key("huge"), entry(60_000)))
        XCTAssertNil(cache.get(key("huge")))
    }

    /// The shard's own index (open addressing, backward-shift removal) against a dictionary:
    /// random puts, gets, removes and group drops, with keys that collide on home places.
    func testShardIndexAgreesWithADictionaryUnderChurn() {
        var shard = LRUShard(budget: Int.max)
        var model: [CacheKey: CachedResponse] = [:]
        var generator = SystemRandomNumberGenerator()
        let keys = (0..<600).map { key("k\($0)", group: "FN\($0 % 40)", account: $0 % 3 == 0 ? "ACb" : "ACa") }
        for step in 0..<30_000 {
            let key = keys.randomElement(using: &generator)!
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<4:
                let value = entry(step % 50)
                shard.put(key, value)
                model[key] = value
            case 4..<7:
                XCTAssertTrue(shard.get(key) === model[key], "step \(step)")
            case 7..<9:
                shard.remove(key)
                model[key] = nil
            default:
                let removed = shard.removeGroup(key.group) { _, _ in true }
                let expected = model.keys.filter { $0.group == key.group }
                XCTAssertEqual(removed, expected.count)
                for gone in expected { model[gone] = nil }
            }
            XCTAssertEqual(shard.count, model.count)
        }
        for key in keys { XCTAssertTrue(shard.get(key) === model[key]) }
        XCTAssertEqual(shard.bytes, model.reduce(0) { $0 + $1.value.cost(for: $1.key) })
    }

    /// An entry keeps no rendered copy of what every entry has: the Content-Type block is shared,
    /// and an `RQ` request id is held inline and sent as a field of its own; other ids are rendered.
    func testEntriesShareTheirContentTypeAndKeepRequestIDsInline() {
        let rq = "RQ" + String(repeating: "0123456789abcdef", count: 2)
        let one = CachedResponse(
            status: 200, contentType: "application/json", requestID: rq, gzipBody: [1], identityLength: 1,
            account: "ACa", storedAt: 0, expiresAt: nil)
        let two = CachedResponse(
            status: 200, contentType: "application/json", requestID: nil, gzipBody: [1], identityLength: 1,
            account: "ACa", storedAt: 0, expiresAt: 5)
        XCTAssertEqual(one.fields, two.fields)
        one.fields.bytes.withUnsafeBufferPointer { a in
            two.fields.bytes.withUnsafeBufferPointer { b in XCTAssertEqual(a.baseAddress, b.baseAddress) }
        }
        XCTAssertEqual(one.requestID, rq)
        XCTAssertEqual(one.requestIDField?.value, rq)
        XCTAssertNil(two.requestID)
        XCTAssertEqual(one.contentType, "application/json")
        XCTAssertTrue(one.isPermanent)
        XCTAssertFalse(two.isPermanent)
        XCTAssertEqual(two.expiresAt, 5)
        let odd = CachedResponse(
            status: 203, contentType: "text/plain", requestID: "req-1", gzipBody: nil, identityBody: [1, 2],
            identityLength: 2, account: "ACa", storedAt: 0, expiresAt: 1)
        XCTAssertNil(odd.requestIDField)
        XCTAssertEqual(odd.requestID, "req-1")
        XCTAssertEqual(odd.contentType, "text/plain")
        XCTAssertEqual(odd.status, 203)
        XCTAssertEqual(odd.identityLength, 2)
    }

    /// Found by the memory benchmark: SIDs made in sequence (differing in their last digits) all
    /// landed in one shard, whose share of the budget then evicted a third of them. Sequential
    /// executions must spread over every shard, with room to spare in each.
    /// Keys hold Studio paths as parts: every cacheable route's key renders its upstream path and
    /// canonical query, reads back from that text as the same key (snapshots, the fleet), and
    /// differs from the key of any other path; text that is not such a path stays text.
    func testKeysHoldStudioPathsAsPartsAndReadBackFromTheirText() throws {
        let flow = "FW" + String(repeating: "0", count: 31) + "1"
        let otherFlow = "FW" + String(repeating: "0", count: 31) + "2"
        let execution = "FN" + String(repeating: "a", count: 32)
        let step = "FT" + String(repeating: "b", count: 32)
        var keys: [CacheKey] = []
        for version in ["v1", "v2"] {
            for family in ["Executions", "Engagements"] where family == "Executions" || version == "v1" {
                for flowSID in [flow, otherFlow] {
                    let base = "/\(version)/Flows/\(flowSID)/\(family)"
                    let paths = [
                        base, "\(base)/\(execution)", "\(base)/\(execution)/Context", "\(base)/\(execution)/Steps",
                        "\(base)/\(execution)/Steps/\(step)", "\(base)/\(execution)/Steps/\(step)/Context",
                    ]
                    for path in paths {
                        for query in ["", "PageSize=2&Page=1"] {
                            guard case .route(let route) = StudioRouter.match(path: path) else {
                                return XCTFail(path)
                            }
                            let key = try XCTUnwrap(CacheKey(account: "ACa", route: route, query: query))
                            XCTAssertEqual(key.resource, route.upstreamPath + CacheKey.canonicalQuery(query))
                            let readBack = CacheKey(account: "ACa", resource: key.resource, group: key.group)
                            XCTAssertEqual(readBack, key, key.resource)
                            XCTAssertEqual(readBack.digest, key.digest)
                            XCTAssertNotEqual(CacheKey(account: "ACb", route: route, query: query), key)
                            if family == "Executions" { keys.append(key) }
                        }
                    }
                }
            }
        }
        XCTAssertEqual(Set(keys).count, keys.count, "every path and query has a key of its own")
        // An Engagement route shares its Execution twin's key (one upstream path, one entry).
        guard case .route(let engagement) = StudioRouter.match(path: "/v1/Flows/\(flow)/Engagements/\(execution)"),
            case .route(let twin) = StudioRouter.match(path: "/v1/Flows/\(flow)/Executions/\(execution)")
        else { return XCTFail("routes") }
        XCTAssertEqual(
            CacheKey(account: "ACa", route: engagement, query: ""), CacheKey(account: "ACa", route: twin, query: ""))
        // Text: not a Studio path, or not in canonical form, is kept and compared as written.
        let group = CacheGroup(execution)!
        for text in ["k0", "/v2/Flows/\(flow)/Revisions", "/v2/Flows/\(flow)/Executions/\(execution)/Steps/\(flow)"] {
            let key = CacheKey(account: "ACa", resource: text, group: group)
            XCTAssertEqual(key.resource, text)
            XCTAssertEqual(key.extraBytes, text.utf8.count)
            XCTAssertNotEqual(key, CacheKey(account: "ACa", resource: text + "x", group: group))
        }
        // A query read back as written: a different key from its canonical form, as before.
        let unsorted = "/v2/Flows/\(flow)/Executions/\(execution)?b=1&a=2"
        XCTAssertEqual(CacheKey(account: "ACa", resource: unsorted, group: group).resource, unsorted)
        XCTAssertNotEqual(
            CacheKey(account: "ACa", resource: unsorted, group: group),
            CacheKey(account: "ACa", resource: "/v2/Flows/\(flow)/Executions/\(execution)?a=2&b=1", group: group))
    }

    /// The key digest reads words (the last one overlapping): a change of any byte, in any
    /// position of texts of every length, or of the length alone, changes it.
    func testKeyDigestSeesEveryByteAndTheLength() {
        var random = SystemRandomNumberGenerator()
        for length in 0..<40 {
            let text = (0..<length).map { _ in UInt8.random(in: 0x21...0x7E, using: &random) }
            let digest = KeyDigest.mix(String(decoding: text, as: UTF8.self), into: 1)
            for index in text.indices {
                var changed = text
                changed[index] ^= 0x01
                XCTAssertNotEqual(KeyDigest.mix(String(decoding: changed, as: UTF8.self), into: 1), digest, "\(index)")
            }
            XCTAssertNotEqual(KeyDigest.mix(String(decoding: text + [0x41], as: UTF8.self), into: 1), digest)
            XCTAssertEqual(
                KeyDigest.mix(String(decoding: text, as: UTF8.self) + "", into: 1), digest, "a function of the text")
        }
    }

    func testSequentialSIDsSpreadOverEveryShard() {
        let perEntry = entry(100).cost(for: key("x"))
        let cache = ResponseCache(budgetBytes: 16 * 150 * perEntry, shardCount: 16)
        for index in 0..<1600 {
            let sid = "FN" + String(format: "%032x", 0x100000 + index)
            cache.put(
                CacheKey(account: "ACa", resource: "/v2/x/" + sid, group: CacheGroup(sid)!), entry(100))
        }
        XCTAssertEqual(cache.stats.evictions, 0)
        XCTAssertEqual(cache.stats.entries, 1600)
        let fingerprints = (0..<256).map { SID("FN" + String(format: "%032x", $0), prefix: "FN")!.fingerprint }
        XCTAssertEqual(Set(fingerprints.map { $0 >> 60 }).count, 16, "top bits vary")
        XCTAssertEqual(Set(fingerprints.map { $0 & 15 }).count, 16, "low bits vary")
    }

    func testReplacingAnEntryKeepsAccountingExact() {
        let cache = ResponseCache(budgetBytes: 1 << 20, shardCount: 2)
        cache.put(key("a"), entry(100))
        cache.put(key("a"), entry(300))
        XCTAssertEqual(cache.stats.entries, 1)
        XCTAssertEqual(cache.stats.bytes, entry(300).cost(for: key("a")))
        cache.remove(key("a"))
        XCTAssertEqual(cache.stats, ResponseCache.Stats(entries: 0, bytes: 0, evictions: 0))
    }

    func testRemoveGroupHonoursThePredicateAndSpansAccounts() {
        let cache = ResponseCache(budgetBytes: 1 << 20)
        cache.put(key("exec", group: "FN1"), entry(10))
        cache.put(key("ctx", group: "FN1"), entry(10, expiresAt: 5))
        cache.put(key("ctx", group: "FN1", account: "ACb"), entry(10, expiresAt: 5, account: "ACb"))
        cache.put(key("other", group: "FN2"), entry(10, expiresAt: 5))
        XCTAssertEqual(cache.removeGroup(testGroup("FN1")) { _, value in !value.isPermanent }, 2)
        XCTAssertNotNil(cache.get(key("exec", group: "FN1")))
        XCTAssertNil(cache.get(key("ctx", group: "FN1")))
        XCTAssertNil(cache.get(key("ctx", group: "FN1", account: "ACb")))
        XCTAssertNotNil(cache.get(key("other", group: "FN2")))
        XCTAssertEqual(cache.removeGroup(testGroup("FN1")), 1)
        XCTAssertEqual(cache.stats.entries, 1)
    }

    func testKeysAreSeparatedByAccountAndQueryOrderDoesNotMatter() throws {
        let route = try XCTUnwrap(
            {
                if case .route(let r) = StudioRouter.match(
                    path: "/v2/Flows/FW\(String(repeating: "a", count: 32))/Executions")
                {
                    return r
                }
                return nil
            }())
        let a = CacheKey(account: "ACa", route: route, query: "PageSize=5&Page=1")
        let b = CacheKey(account: "ACa", route: route, query: "Page=1&PageSize=5")
        let other = CacheKey(account: "ACb", route: route, query: "Page=1&PageSize=5")
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(b, other)
        XCTAssertEqual(a?.group.description, "FW\(String(repeating: "a", count: 32))/lists")
        XCTAssertEqual(CacheKey.canonicalQuery("b=%41&a=x+y"), "?a=x%20y&b=A")
    }

    /// Issue 18 #6: names are sorted, but a repeated name keeps its order (the upstream may read
    /// the first or the last), so `PageSize=2&PageSize=3` and `PageSize=3&PageSize=2` are two entries.
    func testRepeatedQueryNamesKeepTheirOrderInTheKey() throws {
        let route = try XCTUnwrap(
            {
                if case .route(let r) = StudioRouter.match(
                    path: "/v2/Flows/FW\(String(repeating: "a", count: 32))/Executions")
                {
                    return r
                }
                return nil
            }())
        let first = CacheKey(account: "ACa", route: route, query: "PageSize=2&PageSize=3")
        let second = CacheKey(account: "ACa", route: route, query: "PageSize=3&PageSize=2")
        XCTAssertNotEqual(first, second)
        XCTAssertEqual(
            CacheKey(account: "ACa", route: route, query: "b=1&a=2"),
            CacheKey(account: "ACa", route: route, query: "a=2&b=1"))
        XCTAssertEqual(CacheKey.canonicalQuery("z=1&a=3&z=0&a=1&m=x"), "?a=3&a=1&m=x&z=1&z=0")
    }
}
