import Foundation
import HTTP
import Studio

/// The control API tests drive (`/__mock/...`, no auth: the mock listens on loopback only).
///
/// - `POST /__mock/reset` — back to the fixtures; answers them.   `GET /__mock/fixtures`
/// - `GET /__mock/requests[?method=GET&path=/v2/...]` — Studio request counters
/// - `GET /__mock/last-request` — method, target, headers and body of the last Studio request
/// - `GET /__mock/connections` — `{"accepted": N}`: TCP connections accepted since start
/// - `POST /__mock/faults` JSON `{"path_prefix","method","status","code","delay_ms","reset","body","content_type","truncate","times","probability","gzip_bomb_bytes"}`;
///   `DELETE /__mock/faults`
/// - `POST /__mock/executions/{FN}/end` — the execution ends (as if the flow finished)
/// - `POST /__mock/executions/{FN}/context` — body is the new raw context JSON
/// - `POST /__mock/executions/{FN}/date_created` — body is the new creation time, `2019-05-11T12:00:00Z`
///   (retention tests: an execution created a chosen time ago)
/// - `POST /__mock/seed` JSON `{"count": N, "context_bytes": B, "status": "ended"|"active", "realistic": true}` — N
///   more executions in flow A with contexts of about B bytes (default 1024); SIDs are `FN` + (0x100000 + i) in hex.
///   Without `realistic`, a context is `{"n": i, "pad": "xxx…"}` (gzips to almost nothing); with it, one shaped like a
///   real flow's, different per execution and deterministic from i (`MockContexts`, gzips to about half)
/// - `POST /__mock/accounts/{AC}/rotate` — new auth token (the old one is revoked); answers it
/// - `POST /__mock/keys/{SK}/revoke` — the API key stops working
extension MockStudio {
    func control(_ request: HTTPRequest, path: String, query: String) -> HTTPResponse {
        let segments = path.split(separator: "/").map(String.init)  // ["__mock", ...]
        let params = FormURLEncoded.parse(query)
        func ok(_ body: String = #"{"ok": true}"#) -> HTTPResponse { Self.json(200, body) }
        let missing = Self.error(TwilioError(status: 404, code: 20404, message: "No such mock resource \(path)"))

        let rest = Array(segments.dropFirst())
        let padded = rest + ["", "", ""]
        switch (request.method, rest.count, padded[0], padded[1], padded[2]) {
        case ("POST", 1, "reset", _, _):
            state.withLock { $0 = MockFixtures.seed() }
            return ok(MockFixtures.json)
        case ("GET", 1, "connections", _, _):
            return ok(#"{"accepted": \#(connections?.accepted ?? -1)}"#)
        case ("GET", 1, "fixtures", _, _):
            return ok(MockFixtures.json)
        case ("GET", 1, "requests", _, _):
            let counts = state.withLock { $0.requestCounts }
            let method = params.last { $0.name == "method" }?.value
            let wanted = params.last { $0.name == "path" }?.value
            let matching = counts.filter { key, _ in
                let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
                return (method == nil || parts[0] == method) && (wanted == nil || parts[1] == wanted)
            }
            let byPath = matching.sorted { $0.key < $1.key }.map { "\(JSONText.quoted($0.key)): \($0.value)" }.joined(
                separator: ", ")
            return ok(#"{"count": \#(matching.values.reduce(0, +)), "requests": {\#(byPath)}}"#)
        case ("GET", 1, "last-request", _, _):
            guard let last = state.withLock({ $0.lastRequest }) else { return missing }
            let headers = last.headers.map { "[\(JSONText.quoted($0.name)), \(JSONText.quoted($0.value))]" }.joined(
                separator: ", ")
            return ok(
                #"{"method": \#(JSONText.quoted(last.method.rawValue)), "target": \#(JSONText.quoted(last.target)), "headers": [\#(headers)], "body": \#(JSONText.quoted(String(decoding: last.body, as: UTF8.self)))}"#
            )
        case ("POST", 1, "faults", _, _):
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
                return Self.error(.badRequest("fault must be a JSON object"))
            }
            let fault = MockFault(
                pathPrefix: object["path_prefix"] as? String ?? "/",
                method: object["method"] as? String,
                status: object["status"] as? Int,
                code: object["code"] as? Int,
                delayMilliseconds: object["delay_ms"] as? Int ?? 0,
                reset: object["reset"] as? Bool ?? false,
                body: object["body"] as? String,
                contentType: object["content_type"] as? String,
                truncate: object["truncate"] as? Bool ?? false,
                remaining: object["times"] as? Int,
                probability: object["probability"] as? Double ?? 1,
                gzipBombBytes: object["gzip_bomb_bytes"] as? Int
            )
            state.withLock { $0.faults.append(fault) }
            return ok()
        case ("POST", 1, "seed", _, _):
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
                let count = object["count"] as? Int, (1...1_000_000).contains(count)
            else { return Self.error(.badRequest("seed needs {\"count\": 1...1000000}")) }
            let size = max(16, object["context_bytes"] as? Int ?? 1024)
            let status = object["status"] as? String == "active" ? "active" : "ended"
            let realistic = object["realistic"] as? Bool ?? false
            let filler = String(repeating: "x", count: max(0, size - 40))
            let created = Date()
            let seeded = (0..<count).map { index in
                let context =
                    realistic
                    ? MockContexts.realistic(
                        index: index, bytes: size, account: MockFixtures.accountA, flow: MockFixtures.flowA)
                    : #"{"n":\#(index),"pad":"\#(filler)"}"#
                return MockFixtures.execution(
                    sid: MockSID.make("FN", 0x100000 + index), account: MockFixtures.accountA, flow: MockFixtures.flowA,
                    serial: 0x100000 + index, context: context, status: status, created: created)
            }
            state.withLock { $0.executions.appendOldest(seeded) }
            return ok(#"{"first": \#(JSONText.quoted(MockSID.make("FN", 0x100000))), "count": \#(count)}"#)
        case ("DELETE", 1, "faults", _, _):
            state.withLock { $0.faults.removeAll() }
            return ok()
        case ("POST", 3, "executions", let sid, let action) where action == "end" || action == "context":
            let found = state.withLock { state -> Bool in
                guard state.executions[sid] != nil else { return false }
                if action == "end" {
                    state.executions[sid]?.status = "ended"
                } else {
                    state.executions[sid]?.context = String(decoding: request.body, as: UTF8.self)
                }
                state.executions[sid]?.dateUpdated = Date()
                return true
            }
            return found ? ok() : missing
        case ("POST", 3, "executions", let sid, "date_created"):
            guard let created = MockDate.parse(String(decoding: request.body, as: UTF8.self)) else {
                return Self.error(.badRequest("date_created must look like 2019-05-11T12:00:00Z"))
            }
            let found = state.withLock { state -> Bool in
                guard state.executions[sid] != nil else { return false }
                state.executions[sid]?.dateCreated = created
                return true
            }
            return found ? ok() : missing
        case ("POST", 3, "accounts", let sid, "rotate"):
            let token = "token-" + UUID().uuidString.lowercased()
            let found = state.withLock { state -> Bool in
                guard state.accounts[sid] != nil else { return false }
                state.accounts[sid]?.authToken = token
                return true
            }
            return found ? ok(#"{"auth_token": \#(JSONText.quoted(token))}"#) : missing
        case ("POST", 3, "keys", let sid, "revoke"):
            let found = state.withLock { $0.apiKeys.removeValue(forKey: sid) != nil }
            return found ? ok() : missing
        default:
            return missing
        }
    }
}
