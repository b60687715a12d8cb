import Cache
import Foundation
import HTTP
import Locking
import Studio
import Synchronization
import Upstream
import XCTest

@testable import Fleet
@testable import Gateway
@testable import Redis
@testable import TestSupport

/// The fleet over a Redis Cluster in process (`RedisMemoryCluster`, three masters; pod A seeded
/// with node 0, pod B with node 1): entries shared across the nodes, a slot moving while its
/// entries are read (ASK, then MOVED, every read still a second-level hit), a write reaching the
/// node that holds the copies, a stopped node's slots reading as misses, proofs on their own slot's
/// node. The real 3-master cluster (`EndToEndFleetClusterTests`) keeps what only redis-server shows.
final class FleetClusterInProcessTests: XCTestCase {
    typealias S = StudioBodies

    func stats(_ pod: InProcessGateway) throws -> RedisStats { try XCTUnwrap(pod.gateway.fleet?.client.stats) }

    func load(_ counter: borrowing Atomic<Int>) -> Int { counter.load(ordering: .relaxed) }

    /// The first execution from number `from` whose entries (`{FN…}`) live on node `node`.
    func execution(onNode node: Int, of cluster: RedisMemoryCluster, from: Int = 100) -> String {
        var number = from
        while cluster.owner(ofKey: "{\(S.execution(number))}") != node { number += 1 }
        return S.execution(number)
    }

    /// The Redis keys of `execution`'s entries (`{FN…}:e:…`), on whichever nodes.
    func entryKeys(_ fleet: InProcessFleet, of execution: String) -> [String] {
        fleet.entryKeys.filter { $0.contains("{\(execution)}:e:") }
    }

    /// Every pod answers any execution (ended), its Context, and steps pages; DELETE with 204.
    func answerEverything(_ fleet: InProcessFleet, deleted: Locked<Set<String>> = Locked([])) {
        for pod in fleet.pods {
            pod.upstream.answer { request in
                let path = request.pathAndQuery
                let sid = String(path.split(separator: "/")[4].prefix(34))
                if request.method == "DELETE" {
                    deleted.withLock { _ = $0.insert(sid) }
                    return .success(UpstreamResponse(status: 204, headers: [:], body: []))
                }
                if deleted.withLock({ $0.contains(sid) }) { return S.twilioError(404, code: 20404) }
                if path.contains("/Steps") { return S.ok(#"{"steps": [], "meta": {"key": "steps"}}"#) }
                if path.hasSuffix("/Context") { return S.ok(S.contextJSON(sid)) }
                return S.ok(S.executionJSON(sid, status: "ended"))
            }
        }
    }

    func testTwoPodsSeededWithDifferentNodesShareEntriesOnEveryNode() throws {
        let cluster = RedisMemoryCluster()
        let fleet = try InProcessFleet(cluster: cluster)
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        answerEverything(fleet)
        for node in 0..<3 {
            let sid = execution(onNode: node, of: cluster)
            XCTAssertEqual(try a.send(.get, S.path(sid), auth: S.authA).headers["X-Cache"], "MISS")
            try waitUntil("the entry of \(sid) is in Redis") { entryKeys(fleet, of: sid).count == 1 }
            XCTAssertEqual(cluster.holders(of: entryKeys(fleet, of: sid)[0]), [node], "the slot's owner holds it")
            let shared = try b.send(.get, S.path(sid), auth: S.authA)
            XCTAssertEqual(shared.headers["X-Cache"], "HIT", "node \(node)")
            XCTAssertEqual(shared.headers["X-Cache-Level"], "L2", "node \(node)")
        }
        XCTAssertEqual(b.upstream.requests.count, 0, "pod B asked the fleet only")
        for pod in fleet.pods {
            let stats = try stats(pod)
            // Each command went to its slot's owner: a router that sent them to the seed would be
            // redirected (or, ignoring MOVED, miss).
            XCTAssertEqual(load(stats.movedRedirections), 0)
            XCTAssertEqual(load(stats.askRedirections), 0)
            XCTAssertEqual(load(stats.errors), 0)
            XCTAssertEqual(pod.gateway.fleet?.client.isCluster, true)
        }
    }

    /// The slot of one execution's entries moves from node 2 to node 0 in the real cluster's steps
    /// while pod B reads each entry for the first time (so from Redis): before any key moved the
    /// owner answers; keys already moved are answered after ASK (the importing node takes them
    /// after ASKING); once the owner changed, one MOVED and then straight to the new owner. Every
    /// read is a second-level hit and no Redis command of pod B fails.
    func testASlotMovingWhileItsEntriesAreReadGivesAskThenMovedAndEveryReadAnL2Hit() throws {
        let cluster = RedisMemoryCluster()
        let fleet = try InProcessFleet(cluster: cluster)
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        answerEverything(fleet)
        let (source, target) = (2, 0)
        let sid = execution(onNode: source, of: cluster)
        let slot = HashSlot.of("{\(sid)}")
        let pages = (1...12).map { S.path(sid, "/Steps?PageSize=\($0)") }
        XCTAssertEqual(try a.send(.get, S.path(sid), auth: S.authA).status, 200)  // learns that it ended
        for page in pages { XCTAssertEqual(try a.send(.get, page, auth: S.authA).status, 200) }
        try waitUntil("every page is on node \(source)") {
            cluster.nodes[source].keys(inSlot: slot).filter { $0.contains("}:e:") }.count == pages.count + 1
        }
        XCTAssertEqual(try b.send(.get, S.path(sid), auth: S.authA).headers["X-Cache-Level"], "L2")
        let stats = try stats(b)
        let errors = load(stats.errors)
        var unread = pages
        /// Reads `count` unread pages (those whose key is on `node`, if given) through pod B.
        func read(_ count: Int, on node: Int? = nil, _ phase: String) throws {
            for _ in 0..<count {
                let index = try XCTUnwrap(
                    unread.firstIndex { page in
                        guard let node else { return true }
                        let key = entryKeys(fleet, of: sid).first { $0.hasSuffix(":" + page) }
                        return key.map { cluster.holders(of: $0) == [node] } ?? false
                    }, "an unread page on node \(node ?? -1)")
                let page = unread.remove(at: index)
                let answer = try b.send(.get, page, auth: S.authA)
                XCTAssertEqual(answer.status, 200, "\(phase): \(page)")
                XCTAssertEqual(answer.headers["X-Cache-Level"], "L2", "\(phase): \(page)")
            }
        }
        func redirections() -> (ask: Int, moved: Int) { (load(stats.askRedirections), load(stats.movedRedirections)) }

        cluster.beginMigration(slot: slot, to: target)
        try read(2, "migrating, no key moved")
        XCTAssertEqual(redirections().ask, 0, "the owner still holds every key")
        let moved = cluster.moveKeys(slot: slot, limit: 7)
        XCTAssertEqual(moved.count, 7)
        try read(2, on: target, "half moved, a moved key")
        XCTAssertEqual(redirections().ask, 2, "each read of a moved key asked the importing node once")
        try read(1, on: source, "half moved, a key still on the owner")
        XCTAssertEqual(redirections().ask, 2)
        cluster.moveKeys(slot: slot)
        try read(2, "every key moved, the owner unchanged")
        XCTAssertEqual(redirections().ask, 4)
        XCTAssertEqual(redirections().moved, 0, "nothing moved for good yet")
        cluster.finishMigration(slot: slot)
        try read(unread.count, "the owner changed")
        XCTAssertEqual(redirections().moved, 1, "one MOVED, then the new owner straight away")
        XCTAssertEqual(redirections().ask, 4)

        XCTAssertEqual(load(stats.errors), errors, "no Redis command of pod B failed")
        XCTAssertEqual(b.upstream.requests.count, 0, "every read came from the fleet")
        let map = try XCTUnwrap(b.gateway.fleet?.client.slotMap)
        XCTAssertEqual(map.owner(ofSlot: slot)?.port, cluster.ports[target], "pod B learnt the new owner")
        XCTAssertEqual(Set(entryKeys(fleet, of: sid).flatMap(cluster.holders)), [target])
    }

    /// Two executions on the two nodes that are not the writer's seed: a DELETE through pod A
    /// removes each one's entries and group set from its own node (and only its own), and pod B,
    /// seeded with another node, hears it and answers what the upstream says now.
    func testAWriteThroughOnePodRemovesTheRedisCopiesOnWhicheverNodeOwnsThem() throws {
        let cluster = RedisMemoryCluster()
        let fleet = try InProcessFleet(cluster: cluster)
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        answerEverything(fleet)
        let executions = [(execution(onNode: 1, of: cluster), 1), (execution(onNode: 2, of: cluster), 2)]
        for (sid, _) in executions {
            _ = try a.send(.get, S.path(sid), auth: S.authA)
            _ = try a.send(.get, S.path(sid, "/Context"), auth: S.authA)
        }
        try waitUntil("both executions' entries are in Redis") {
            executions.allSatisfy { entryKeys(fleet, of: $0.0).count == 2 }
        }
        for (sid, node) in executions {
            XCTAssertEqual(Set(entryKeys(fleet, of: sid).flatMap(cluster.holders)), [node])
            XCTAssertEqual(try b.send(.get, S.path(sid), auth: S.authA).headers["X-Cache-Level"], "L2")
        }
        func copies(_ sid: String, on node: Int) -> [String] {
            cluster.nodes[node].keys().filter { $0.contains("{\(sid)}:e:") || $0.contains("{\(sid)}:g") }
        }
        for (index, (sid, node)) in executions.enumerated() {
            XCTAssertFalse(copies(sid, on: node).isEmpty)
            XCTAssertEqual(try a.send(.delete, S.path(sid), auth: S.authA).status, 204)
            try waitUntil("node \(node) dropped \(sid)'s entries and group set") { copies(sid, on: node).isEmpty }
            for (other, otherNode) in executions[(index + 1)...] {
                XCTAssertEqual(copies(other, on: otherNode).count, 3, "the other execution's copies stay")
            }
            try waitUntil("pod B dropped its copy of \(sid)") {
                b.gateway.store.entries { key, _ in key.resource.contains(sid) }.isEmpty
            }
            let after = try b.send(.get, S.path(sid), auth: S.authA)
            XCTAssertEqual(after.status, 404, "pod B answers what the upstream says now")
            XCTAssertEqual(after.headers["X-Cache"], "MISS")
        }
    }

    /// Node 0, pod A's seed, stops after start-up: the executions of its slots read as misses on
    /// both pods (every client still a 200), those of the other nodes are shared both ways, and pod
    /// A's subscription moves to a node that runs.
    func testAStoppedNodesSlotsReadAsMissesWhileTheOtherNodesKeepSharing() throws {
        let cluster = RedisMemoryCluster()
        let fleet = try InProcessFleet(cluster: cluster)
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        answerEverything(fleet)
        // Both pods verified while every node runs (the proof's node may be the one that stops).
        let first = execution(onNode: 1, of: cluster, from: 1)
        _ = try a.send(.get, S.path(first), auth: S.authA)
        try fleet.awaitShared(entries: 1)
        XCTAssertEqual(try b.send(.get, S.path(first), auth: S.authA).headers["X-Cache-Level"], "L2")

        cluster.stop(node: 0)
        let channel = a.gateway.config.redisPrefix + "invalidate"
        try waitUntil("both pods hear the fleet on the running nodes") { cluster.subscribers(of: channel) == 2 }
        var statuses: [HTTPStatus] = []
        var (sharedHits, sharedReads, misses, orphanReads) = (0, 0, 0, 0)
        for round in 0..<3 {
            for node in 0..<3 {
                let sid = execution(onNode: node, of: cluster, from: 1_000 + 100 * (3 * round + node))
                let (writer, reader) = round % 2 == 0 ? (a, b) : (b, a)
                let started = Date()
                let fetched = try writer.send(.get, S.path(sid), auth: S.authA)
                XCTAssertLessThan(Date().timeIntervalSince(started), 0.5, "a dead node costs no wait")
                statuses.append(fetched.status)
                if node != 0 {
                    try waitUntil("the entry of \(sid) is on node \(node)") {
                        cluster.nodes[node].keys().contains { $0.contains("{\(sid)}:e:") }
                    }
                }
                let answer = try reader.send(.get, S.path(sid), auth: S.authA)
                statuses.append(answer.status)
                if node == 0 {
                    orphanReads += 1
                    if answer.headers["X-Cache"] == "MISS" { misses += 1 }
                } else {
                    sharedReads += 1
                    if answer.headers["X-Cache-Level"] == "L2" { sharedHits += 1 }
                }
            }
        }
        XCTAssertEqual(Set(statuses), [200], "clients saw only 200s")
        XCTAssertEqual(sharedHits, sharedReads, "every entry on a running node was shared")
        XCTAssertEqual(misses, orphanReads, "the stopped node's slots read as misses")
        XCTAssertEqual(sharedReads, 6)
    }

    /// A proof's key is tagged by its own name (`{p:NAME}`): it lives on that slot's node, apart
    /// from the entries, and a pod seeded elsewhere reads it there.
    func testProofsLiveOnTheirOwnSlotsNode() throws {
        let cluster = RedisMemoryCluster()
        let fleet = try InProcessFleet(cluster: cluster)
        let (a, b) = (fleet.pods[0], fleet.pods[1])
        answerEverything(fleet)
        _ = try a.send(.get, S.path(S.execution(1)), auth: S.authA)
        try fleet.awaitShared(entries: 1)
        let proof = try XCTUnwrap(fleet.proofKeys.first)
        let tag = try XCTUnwrap(proof.split(separator: "}").first.map { $0.split(separator: "{").last })
        XCTAssertTrue(tag?.hasPrefix("p:") ?? false, proof)
        let node = try XCTUnwrap(cluster.owner(ofKey: proof))
        XCTAssertEqual(HashSlot.of(proof), HashSlot.of("{\(tag ?? "")}"), "the tag decides the slot")
        XCTAssertEqual(cluster.holders(of: proof), [node])
        // An execution whose entries live on another node than the proof: pod B needs both.
        let sid = execution(onNode: (node + 1) % 3, of: cluster)
        _ = try a.send(.get, S.path(sid), auth: S.authA)
        try waitUntil("the entry of \(sid) is in Redis") { entryKeys(fleet, of: sid).count == 1 }
        XCTAssertEqual(cluster.holders(of: entryKeys(fleet, of: sid)[0]), [(node + 1) % 3])
        let shared = try b.send(.get, S.path(sid), auth: S.authA)
        XCTAssertEqual(shared.headers["X-Cache-Level"], "L2")
        XCTAssertEqual(b.upstream.requests.count, 0, "pod B verified the caller with the proof from node \(node)")
        XCTAssertEqual(fleet.proofKeys.flatMap(cluster.holders), fleet.proofKeys.map { cluster.owner(ofKey: $0)! })
    }
}
