/// Reading the cluster's own description of its slots. Both replies name a node by an endpoint
/// (its announced IP or host name) and a port; an empty endpoint means the node that answered
/// (`askedHost`), `?` one whose address is unknown (skipped: nobody could reach it).
extension SlotMap {
    /// Redis 7's `CLUSTER SHARDS` in RESP2: per shard a flat map with `slots` (start, end, start,
    /// end…) and `nodes` (flat maps with `endpoint`, `ip`, `port`, `role`, `health`…). The owner is
    /// the shard's master. `tls`: the client speaks TLS, so a node's `tls-port` is the one to dial
    /// (a cluster with `tls-cluster yes` lists it beside, or instead of, the plaintext `port`).
    public init?(clusterShards reply: RESPValue, askedHost: String, tls: Bool = false) {
        guard case .array(let shards?) = reply else { return nil }
        var ranges: [(slots: ClosedRange<Int>, master: RedisNodeAddress)] = []
        var nodes: [RedisNodeAddress] = []
        for shard in shards {
            guard let fields = Self.flatMap(shard), case .array(let bounds?) = fields["slots"],
                case .array(let members?) = fields["nodes"]
            else { return nil }
            var master: RedisNodeAddress? = nil
            for member in members {
                guard let node = Self.flatMap(member) else { return nil }
                let port = (tls ? Self.integer(node["tls-port"]) : nil) ?? Self.integer(node["port"])
                guard let port, port > 0, port <= Int(UInt16.max), let host = Self.host(node, askedHost: askedHost)
                else {
                    continue
                }
                let address = RedisNodeAddress(host: host, port: UInt16(port))
                nodes.append(address)
                if Self.text(node["role"]) == "master" { master = address }
            }
            guard bounds.count.isMultiple(of: 2) else { return nil }
            guard let master else { continue }
            for index in stride(from: 0, to: bounds.count, by: 2) {
                guard let start = Self.integer(bounds[index]), let end = Self.integer(bounds[index + 1]), start <= end
                else { return nil }
                ranges.append((start...end, master))
            }
        }
        self.init(ranges: ranges, nodes: nodes)
    }

    /// `CLUSTER SLOTS` (Redis 3 to 7, deprecated in 7): per range `[start, end, master, replica…]`,
    /// each node `[endpoint, port, id, …]`.
    public init?(clusterSlots reply: RESPValue, askedHost: String) {
        guard case .array(let entries?) = reply else { return nil }
        var ranges: [(slots: ClosedRange<Int>, master: RedisNodeAddress)] = []
        var nodes: [RedisNodeAddress] = []
        for entry in entries {
            guard case .array(let items?) = entry, items.count >= 3, let start = Self.integer(items[0]),
                let end = Self.integer(items[1]), start <= end
            else { return nil }
            var master: RedisNodeAddress? = nil
            for (position, item) in items.dropFirst(2).enumerated() {
                guard case .array(let node?) = item, node.count >= 2, let port = Self.integer(node[1]),
                    let endpoint = Self.text(node[0])
                else { return nil }
                guard endpoint != "?", port > 0, port <= Int(UInt16.max) else { continue }
                let address = RedisNodeAddress(host: endpoint.isEmpty ? askedHost : endpoint, port: UInt16(port))
                nodes.append(address)
                if position == 0 { master = address }
            }
            if let master { ranges.append((start...end, master)) }
        }
        self.init(ranges: ranges, nodes: nodes)
    }

    private static func host(_ node: [String: RESPValue], askedHost: String) -> String? {
        let endpoint = text(node["endpoint"]) ?? text(node["ip"])
        guard let endpoint, endpoint != "?" else { return nil }
        return endpoint.isEmpty ? askedHost : endpoint
    }

    /// RESP2 sends a map as a flat array of alternating names and values.
    private static func flatMap(_ value: RESPValue) -> [String: RESPValue]? {
        guard case .array(let items?) = value, items.count.isMultiple(of: 2) else { return nil }
        var fields: [String: RESPValue] = [:]
        for index in stride(from: 0, to: items.count, by: 2) {
            guard let name = text(items[index]) else { return nil }
            fields[name] = items[index + 1]
        }
        return fields
    }

    private static func text(_ value: RESPValue?) -> String? {
        switch value {
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        case .simpleString(let text): text
        default: nil
        }
    }

    private static func integer(_ value: RESPValue?) -> Int? {
        guard case .integer(let number) = value, number >= 0, number <= Int(UInt16.max) else { return nil }
        return Int(number)
    }
}
