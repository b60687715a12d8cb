import Dispatch
import Foundation
import Locking
import XCTest

@testable import Gateway
@testable import Redis

/// Pods of one fleet in process: `InProcessGateway`s (scripted upstreams, the test's clock) sharing
/// one `RedisMemoryServer`, or the nodes of a `RedisMemoryCluster` (pod `i` seeded with node
/// `i` modulo their number). The fleet's cases run here in milliseconds; the real redis-server
/// tests keep what only a real server shows.
final class InProcessFleet {
    /// The single node; in a cluster, node 0 (read the cluster instead: keys live on every node).
    let redis: RedisMemoryServer
    let cluster: RedisMemoryCluster?
    let pods: [InProcessGateway]

    convenience init(
        pods count: Int = 2, redis: RedisMemoryServer = RedisMemoryServer(),
        _ configure: (inout GatewayConfig) -> Void = { _ in }
    ) throws {
        try self.init(pods: count, redis: redis, each: { _, config in configure(&config) })
    }

    /// `each` configures pod `index` (0-based), e.g. each its own `publicURL`.
    convenience init(
        pods count: Int = 2, redis: RedisMemoryServer = RedisMemoryServer(), each: (Int, inout GatewayConfig) -> Void
    ) throws {
        try self.init(pods: count, redis: redis, cluster: nil, each: each)
    }

    /// Pods over `cluster`, pod `i` seeded with node `i` modulo the nodes: each pod finds the
    /// cluster itself (it is ready once its slot map is known).
    convenience init(
        pods count: Int = 2, cluster: RedisMemoryCluster, each: (Int, inout GatewayConfig) -> Void = { _, _ in }
    ) throws {
        try self.init(pods: count, redis: cluster.nodes[0], cluster: cluster, each: each)
    }

    private init(
        pods count: Int, redis: RedisMemoryServer, cluster: RedisMemoryCluster?,
        each: (Int, inout GatewayConfig) -> Void
    ) throws {
        self.redis = redis
        self.cluster = cluster
        var pods: [InProcessGateway] = []
        for index in 0..<count {
            let seed = cluster.map { $0.nodes[index % $0.nodes.count] } ?? redis
            pods.append(
                try InProcessGateway { config in
                    config.redis = "redis://127.0.0.1:\(seed.port)"
                    // A loaded test machine answers in more than the product's 5 ms now and then.
                    config.redisCommandTimeoutMilliseconds = 500
                    config.dataKey = InProcessFleet.dataKey
                    each(index, &config)
                })
        }
        self.pods = pods
        for (index, pod) in pods.enumerated() {
            guard let cluster else {
                try pod.waitForFleetSubscription(on: redis)
                continue
            }
            try pod.waitForFleetSubscription(on: cluster.nodes[index % cluster.nodes.count])
            let client = try XCTUnwrap(pod.gateway.fleet?.client)
            try waitUntil("pod \(index) learnt the slot map") { client.slotMap?.ownedSlotCount == HashSlot.count }
        }
    }

    /// The fleet's data key unless a test says otherwise (sealed values, shared proofs).
    static let dataKey = String(repeating: "5a", count: 32)

    deinit {
        if let cluster { cluster.stop() } else { redis.stop() }
    }

    /// Moves every pod's clock (their entries' lifetimes are on it).
    func advance(_ seconds: Double) { for pod in pods { pod.advance(seconds) } }

    /// Every key in Redis (on every running node of a cluster), sorted.
    var allKeys: [String] { cluster?.keys() ?? redis.keys() }

    /// Redis keys of the fleet's entries (`…:e:…`), sorted.
    var entryKeys: [String] { allKeys.filter { $0.contains("}:e:") } }

    /// Redis keys of the fleet's credential proofs.
    var proofKeys: [String] { allKeys.filter { $0.contains("{p:") } }

    /// Waits until `entries` entries and at least one proof are in Redis: a pod writes its proof
    /// and its entry on different pipelined connections, so either may land first.
    func awaitShared(entries: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        try waitUntil("\(entries) entries and a proof are in Redis", file: file, line: line) {
            entryKeys.count == entries && !proofKeys.isEmpty
        }
    }
}

extension InProcessGateway {
    /// The pod hears the fleet's channel (its subscription is made on a loop of its own, at start).
    func waitForFleetSubscription(on redis: RedisMemoryServer, within seconds: Double = 5) throws {
        let channel = gateway.config.redisPrefix + "invalidate"
        try waitUntil(within: seconds, "the pod subscribed to \(channel)") { redis.subscribers(of: channel) > 0 }
    }
}

/// Waits for something asynchronous by design (a write that lands after the answer, a message
/// that crosses pods) with a deadline, never a fixed sleep.
func waitUntil(
    within seconds: Double = 5, _ what: String, file: StaticString = #filePath, line: UInt = #line,
    _ condition: () -> Bool
) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else {
            XCTFail("not within \(seconds) s: \(what)", file: file, line: line)
            throw NoAnswer(seconds: seconds)
        }
        usleep(1_000)
    }
}
