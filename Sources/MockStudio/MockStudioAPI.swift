import Foundation
import HTTP
import Studio

/// The Studio REST operations of the mock.
extension MockStudio {
    func studio(_ request: HTTPRequest, path: String, query: String) -> HTTPResponse {
        guard let (account, restricted) = authenticate(request.headers["Authorization"]) else {
            return Self.error(.unauthorized)
        }
        guard case .route(let route) = StudioRouter.match(path: path), !route.viaEngagements else {
            return Self.error(.notFound(path: path))
        }
        if restricted, route.resource == .executionContext || route.resource == .stepContext {
            return Self.error(
                TwilioError(status: 403, code: 20403, message: "Forbidden: this API key may not read contexts"))
        }
        guard route.allows(request.method) else { return Self.error(.methodNotAllowed(request.method)) }
        let version = route.version.rawValue
        let params = FormURLEncoded.parse(query)
        let form = FormURLEncoded.parse(request.body)

        return state.withLock { state -> HTTPResponse in
            let notFound = Self.error(.notFound(path: path))
            if route.resource == .flowAdmin {
                return flowAdmin(
                    state, route: route, method: request.method, account: account, path: path, params: params)
            }
            guard let flow = route.flow, let flowInfo = state.flows[flow.value], flowInfo.account == account else {
                return notFound
            }
            if route.resource == .executionList {
                if request.method == "POST" { return create(&state, flow: flowInfo, version: version, form: form) }
                return list(state, flow: flow.value, version: version, path: path, params: params)
            }
            guard let sid = route.execution?.value, let execution = state.executions[sid], execution.flow == flow.value
            else {
                return notFound
            }
            switch (route.resource, request.method) {
            case (.execution, "GET"):
                return Self.json(200, MockRender.execution(execution, version: version))
            case (.execution, "POST"):
                guard let status = form.first(where: { $0.name == "Status" })?.value, status == "ended" else {
                    return Self.error(TwilioError(status: 400, code: 20001, message: "Invalid Status: must be 'ended'"))
                }
                state.executions[sid]?.status = "ended"
                state.executions[sid]?.dateUpdated = Date()
                return Self.json(200, MockRender.execution(state.executions[sid]!, version: version))
            case (.execution, "DELETE"):
                state.executions[sid] = nil
                return HTTPResponse(status: 204, headers: ["Twilio-Request-Id": Self.requestID()])
            case (.executionContext, _):
                return Self.json(200, MockRender.executionContext(execution, version: version))
            case (.stepList, _):
                return paged(
                    ids: execution.steps.map(\.sid), key: "steps", path: path, filters: [], params: params
                ) { MockRender.step(execution.steps[$0], of: execution, version: version) }
            case (.step, _), (.stepContext, _):
                guard let step = execution.steps.first(where: { $0.sid == route.step?.value }) else { return notFound }
                return Self.json(
                    200,
                    route.resource == .step
                        ? MockRender.step(step, of: execution, version: version)
                        : MockRender.stepContext(step, of: execution, version: version))
            default:
                return Self.error(.methodNotAllowed(request.method))
            }
        }
    }

    /// The account a Basic credential belongs to: an account SID + auth token, or an API key + secret.
    /// The account a credential belongs to, and whether it is a restricted key.
    func authenticate(_ authorization: String?) -> (account: String, restricted: Bool)? {
        guard let credentials = BasicCredentials(authorization: authorization) else { return nil }
        return state.withLock { state in
            if let account = state.accounts[credentials.username], account.authToken == credentials.password {
                return (account.sid, false)
            }
            if let key = state.apiKeys[credentials.username], key.secret == credentials.password {
                return (key.account, key.restricted)
            }
            return nil
        }
    }

    private func list(
        _ state: MockState, flow: String, version: String, path: String, params: [(name: String, value: String)]
    ) -> HTTPResponse {
        var executions = state.executions.newestFirst.filter { $0.flow == flow }
        var filters: [(name: String, value: String)] = []
        for name in ["DateCreatedFrom", "DateCreatedTo"] {
            guard let text = params.last(where: { $0.name == name })?.value else { continue }
            guard let bound = MockDate.parse(text) else {
                return Self.error(TwilioError(status: 400, code: 20001, message: "Invalid \(name): \(text)"))
            }
            filters.append((name, text))
            executions = executions.filter {
                name == "DateCreatedFrom" ? $0.dateCreated >= bound : $0.dateCreated <= bound
            }
        }
        return paged(ids: executions.map(\.sid), key: "executions", path: path, filters: filters, params: params) {
            MockRender.execution(executions[$0], version: version)
        }
    }

    /// Twilio paging: `PageSize` (1–1000, default 50), `Page`, and an opaque `PageToken`
    /// (`PA<sid>` = after that item, `PB<sid>` = before it). `render(i)` is item i's JSON: only the
    /// page's items are rendered (a list of 100,000 seeded executions pages quickly).
    private func paged(
        ids: [String], key: String, path: String, filters: [(name: String, value: String)],
        params: [(name: String, value: String)], render: (Int) -> String
    ) -> HTTPResponse {
        func value(_ name: String) -> String? { params.last { $0.name == name }?.value }
        let pageSize = value("PageSize").map { Int($0) ?? -1 } ?? 50
        guard (1...1000).contains(pageSize) else {
            return Self.error(TwilioError(status: 400, code: 20001, message: "PageSize must be between 1 and 1000"))
        }
        let page = value("Page").map { Int($0) ?? -1 } ?? 0
        guard page >= 0 else { return Self.error(TwilioError(status: 400, code: 20001, message: "Invalid Page")) }
        var start = page * pageSize
        if let token = value("PageToken") {
            guard token.count > 2, let anchor = ids.firstIndex(of: String(token.dropFirst(2))) else {
                return Self.error(TwilioError(status: 400, code: 20001, message: "Invalid PageToken"))
            }
            start = token.hasPrefix("PB") ? max(0, anchor - pageSize) : anchor + 1
        }
        start = min(start, ids.count)
        let end = min(ids.count, start + pageSize)
        let next = end < ids.count ? "PA" + ids[end - 1] : nil
        // Past the last page there is no item to anchor on: only page 0's link leads back.
        let previous = start > 0 && start < ids.count ? "PB" + ids[start] : nil
        return Self.json(
            200,
            MockRender.page(
                key: key, path: path, filters: filters, items: (start..<end).map(render),
                page: page, pageSize: pageSize, nextToken: next, previousToken: previous))
    }

    private func create(
        _ state: inout MockState, flow: MockFlow, version: String, form: [(name: String, value: String)]
    ) -> HTTPResponse {
        func value(_ name: String) -> String? { form.last { $0.name == name }?.value }
        for required in ["To", "From"] where value(required)?.isEmpty ?? true {
            return Self.error(
                TwilioError(
                    status: 400, code: 20001, message: "Missing required parameter \(required) in the post body"))
        }
        var parameters = "{}"
        if let text = value("Parameters") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)), object is [String: Any] else {
                return Self.error(TwilioError(status: 400, code: 20001, message: "Parameters must be a JSON object"))
            }
            parameters = text
        }
        state.nextSerial += 1
        let context =
            #"{"flow":{"flow_sid":\#(JSONText.quoted(flow.sid)),"channel":{"address":\#(JSONText.quoted(value("From")!))},"data":\#(parameters)},"contact":{"channel":{"address":\#(JSONText.quoted(value("To")!))}}}"#
        var execution = MockFixtures.execution(
            sid: MockSID.make("FN", state.nextSerial), account: flow.account, flow: flow.sid,
            serial: state.nextSerial, context: context, status: "active", created: Date())
        execution.contactChannelAddress = value("To")!
        state.executions.insertNewest(execution)
        // v1 create answers 200, v2 201 (as the specs say).
        return Self.json(version == "v1" ? 200 : 201, MockRender.execution(execution, version: version))
    }

    private func flowAdmin(
        _ state: MockState, route: StudioRoute, method: HTTPMethod, account: String, path: String,
        params: [(name: String, value: String)]
    ) -> HTTPResponse {
        let version = route.version.rawValue
        guard method == "GET" else { return Self.error(.notFound(path: path)) }
        if route.flow == nil, path == "/\(version)/Flows" {
            let flows = state.flows.values.filter { $0.account == account }.sorted { $0.sid < $1.sid }
            return paged(ids: flows.map(\.sid), key: "flows", path: path, filters: [], params: params) {
                MockRender.flow(flows[$0], version: version)
            }
        }
        if let flow = route.flow, path == "/\(version)/Flows/\(flow)", let info = state.flows[flow.value],
            info.account == account
        {
            return Self.json(200, MockRender.flow(info, version: version))
        }
        return Self.error(.notFound(path: path))
    }
}
