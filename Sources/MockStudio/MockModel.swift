import Foundation
import HTTP

/// The mock's data: plain values, mutated only under `MockStudio`'s lock.
struct MockAccount: Sendable {
    var sid: String
    var authToken: String
}

struct MockAPIKey: Sendable {
    var sid: String
    var secret: String
    var account: String
    /// A restricted key (Twilio's fine-grained permissions): may read executions and steps but
    /// not their contexts, which answer 403 (code 20403).
    var restricted = false
}

struct MockFlow: Sendable {
    var sid: String
    var account: String
    var friendlyName: String
}

struct MockStep: Sendable {
    var sid: String
    var name: String
    /// Raw JSON text, served byte for byte.
    var context: String
    var transitionedFrom: String
    var transitionedTo: String
    var dateCreated: Date
}

struct MockExecution: Sendable {
    var sid: String
    var account: String
    var flow: String
    var contactSid: String
    var contactChannelAddress: String
    /// Raw JSON text of the execution context, served byte for byte.
    var context: String
    var status: String
    var dateCreated: Date
    var dateUpdated: Date?
    var steps: [MockStep]
}

/// A fault rule from the control API, applied to Studio requests whose path starts with `pathPrefix`.
struct MockFault: Sendable {
    var pathPrefix: String
    var method: String?
    /// Answer with this status and a Twilio error body instead of the real response.
    var status: Int?
    var code: Int?
    var delayMilliseconds: Int
    /// Reset the connection instead of answering.
    var reset: Bool
    /// Answer `status` (default 200) with this body instead (HTML from a proxy, invalid JSON…).
    var body: String?
    var contentType: String?
    /// Announce a longer body than is sent, then close.
    var truncate: Bool
    /// How many more requests this rule applies to; nil = until cleared.
    var remaining: Int?
    /// Applies to this fraction of matching requests (1 = all).
    var probability: Double = 1
    /// Answer 200 with this many zero bytes, gzip-compressed (about 1,000:1): a compression bomb.
    var gzipBombBytes: Int? = nil
}

struct MockState: Sendable {
    var accounts: [String: MockAccount] = [:]
    var apiKeys: [String: MockAPIKey] = [:]
    var flows: [String: MockFlow] = [:]
    var executions = ExecutionStore()
    var requestCounts: [String: Int] = [:]
    var faults: [MockFault] = []
    /// Method, target and header fields of the last Studio request, so tests can see what was forwarded.
    var lastRequest: (method: HTTPMethod, target: String, headers: [(name: String, value: String)], body: [UInt8])? =
        nil
    var nextSerial = 0x1000
}

enum MockSID {
    /// A valid SID from a number: prefix + 32 lowercase hex digits.
    static func make(_ prefix: String, _ number: Int) -> String {
        let hex = String(number, radix: 16)
        return prefix + String(repeating: "0", count: 32 - hex.count) + hex
    }
}

enum MockDate {
    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text)
    }
}

/// Executions by SID (lookups stay O(1) with 100k seeded for benchmarks) plus their list order.
struct ExecutionStore: Sendable {
    private var bySID: [String: MockExecution] = [:]
    /// Newest first, as Twilio lists them.
    private var order: [String] = []

    subscript(sid: String) -> MockExecution? {
        get { bySID[sid] }
        set {
            if newValue == nil, bySID[sid] != nil { order.removeAll { $0 == sid } }
            bySID[sid] = newValue
        }
    }

    var newestFirst: [MockExecution] { order.compactMap { bySID[$0] } }

    mutating func insertNewest(_ execution: MockExecution) {
        bySID[execution.sid] = execution
        order.insert(execution.sid, at: 0)
    }

    mutating func appendOldest(_ executions: [MockExecution]) {
        for execution in executions {
            bySID[execution.sid] = execution
            order.append(execution.sid)
        }
    }
}
