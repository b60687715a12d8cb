import Foundation
import Glibc
import XCTest

/// A real Redis Cluster of three masters (no replicas) on loopback, made the way an operator would:
/// three `redis-server --cluster-enabled yes`, then `redis-cli --cluster create`, then a wait for
/// `cluster_state:ok` on every node. `cluster-require-full-coverage no`, so the slots of a node that
/// died fail alone while the others keep serving (as managed clusters are usually configured).
final class RedisClusterProcess {
    static let cliPath = "/usr/bin/redis-cli"
    let nodes: [RedisServerProcess]
    var ports: [UInt16] { nodes.map(\.port) }

    static func skipUnlessInstalled() throws {
        try RedisServerProcess.skipUnlessInstalled()
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: cliPath), "redis-cli is not installed")
    }

    init(masters: Int = 3) throws {
        var nodes: [RedisServerProcess] = []
        for _ in 0..<masters {
            nodes.append(
                try RedisServerProcess(
                    arguments: [
                        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no",
                    ], port: Self.portWithFreeBusPort()))
        }
        self.nodes = nodes
        let created = try Self.cli(
            ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" } + ["--cluster-yes"])
        guard created.contains("[OK] All 16384 slots covered") else {
            stop()
            throw NSError(
                domain: "redis-cluster", code: 1, userInfo: [NSLocalizedDescriptionKey: "create failed: \(created)"])
        }
        try waitUntil("every node reports cluster_state:ok") {
            try nodes.allSatisfy {
                try Self.cli(["-p", String($0.port), "CLUSTER", "INFO"]).contains("cluster_state:ok")
            }
        }
    }

    func stop() { for node in nodes { node.stop() } }

    deinit { stop() }

    /// `redis-cli -p port args…`, its output.
    func cli(_ port: UInt16, _ arguments: String...) throws -> String { try cli(port, arguments) }

    func cli(_ port: UInt16, _ arguments: [String]) throws -> String { try Self.cli(["-p", String(port)] + arguments) }

    func nodeID(_ port: UInt16) throws -> String {
        try cli(port, "CLUSTER", "MYID").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The port of the master serving `slot`, as the cluster itself says.
    func owner(ofSlot slot: Int) throws -> UInt16 { try owner(ofSlot: slot, accordingTo: ports[0]) }

    /// The port of the master serving `slot`, as the node at `port` sees it.
    func owner(ofSlot slot: Int, accordingTo port: UInt16) throws -> UInt16 {
        guard let owner = try slotRanges(accordingTo: port).first(where: { $0.slots.contains(slot) })?.port else {
            throw NSError(
                domain: "redis-cluster", code: 2, userInfo: [NSLocalizedDescriptionKey: "no owner of \(slot)"])
        }
        return owner
    }

    /// `CLUSTER SLOTS` as redis-cli prints it: per range its start, end, then host, port, id (no replicas).
    func slotRanges(accordingTo port: UInt16) throws -> [(slots: ClosedRange<Int>, port: UInt16)] {
        let lines = try cli(port, "CLUSTER", "SLOTS").split(separator: "\n").map(String.init)
        var ranges: [(slots: ClosedRange<Int>, port: UInt16)] = []
        var index = 0
        while index + 3 < lines.count {
            if let start = Int(lines[index]), let end = Int(lines[index + 1]), start <= end,
                lines[index + 2] == "127.0.0.1",
                let owner = UInt16(lines[index + 3])
            {
                ranges.append((start...end, owner))
                index += 4
            } else {
                index += 1
            }
        }
        return ranges
    }

    func waitUntil(_ what: String, seconds: Double = 15, _ condition: () throws -> Bool) throws {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try condition() { return }
            usleep(50_000)
        }
        throw NSError(domain: "redis-cluster", code: 3, userInfo: [NSLocalizedDescriptionKey: "timed out: \(what)"])
    }

    static func cli(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cliPath)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// A free port below 55536 whose bus port (+10000) is free too.
    private static func portWithFreeBusPort() -> UInt16 {
        while true {
            let port = LoopbackPort.free()
            guard port < 55_536 else { continue }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = (port + 10_000).bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if bound == 0 { return port }
        }
    }
}
