import Foundation

/// The deterministic data `reset` seeds: two accounts, an API key, a flow each, executions
/// (ended and active, enough to page through) and contexts with JSON that is hard to rewrite.
public enum MockFixtures {
    public static let accountA = MockSID.make("AC", 0xa1)
    public static let tokenA = "token-a-0123456789abcdef"
    public static let accountB = MockSID.make("AC", 0xb2)
    public static let tokenB = "token-b-0123456789abcdef"
    public static let apiKeyA = MockSID.make("SK", 0xa3)
    public static let apiKeySecretA = "secret-key-a-0123456789"
    /// A restricted key of account A: no access to Context and Step Context (403).
    public static let restrictedKeyA = MockSID.make("SK", 0xa7)
    public static let restrictedKeySecretA = "secret-restricted-a-0123456789"
    public static let flowA = MockSID.make("FW", 0xa4)
    public static let flowB = MockSID.make("FW", 0xb4)
    /// Ended execution of flow A with the tricky context.
    public static let endedExecutionA = MockSID.make("FN", 0xa5)
    /// Active execution of flow A.
    public static let activeExecutionA = MockSID.make("FN", 0xa6)
    public static let executionB = MockSID.make("FN", 0xb5)
    public static let executionsPerFlowA = 12

    /// Unicode, escapes, a 65-bit integer, `1.0`, `1e-7`, Studio URLs and keys named like ours.
    public static let trickyContext =
        #"{"flow":{"data":{"name":"Zoë \u00e9 ☃ 😀","quote":"say \"hi\"\\n","big":18446744073709551617,"one":1.0,"tiny":1e-7,"neg":-0.0}},"url":"https://studio.twilio.com/v2/Flows/FW00000000000000000000000000000000/Executions","links":{"steps":"https://studio.twilio.com/v1/not/ours"},"execution_sid":"FN00000000000000000000000000000000","list":[1,2,{"url":"http://example.com/?a=1&b=2"}],"empty":{},"nothing":null}"#

    static func seed() -> MockState {
        var state = MockState()
        state.accounts[accountA] = MockAccount(sid: accountA, authToken: tokenA)
        state.accounts[accountB] = MockAccount(sid: accountB, authToken: tokenB)
        state.apiKeys[apiKeyA] = MockAPIKey(sid: apiKeyA, secret: apiKeySecretA, account: accountA)
        state.apiKeys[restrictedKeyA] = MockAPIKey(
            sid: restrictedKeyA, secret: restrictedKeySecretA, account: accountA, restricted: true)
        state.flows[flowA] = MockFlow(sid: flowA, account: accountA, friendlyName: "Order status")
        state.flows[flowB] = MockFlow(sid: flowB, account: accountB, friendlyName: "Appointment reminders")

        // A day before the fixtures are made (whole seconds, as Studio writes them): well within
        // the gateway's retention (30 days), whatever day the tests run.
        let base = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 86_400).rounded(.down))
        var executions: [MockExecution] = []
        for index in 0..<executionsPerFlowA {
            let sid: String
            switch index {
            case 0: sid = endedExecutionA
            case 1: sid = activeExecutionA
            default: sid = MockSID.make("FN", 0xa100 + index)
            }
            let created = base.addingTimeInterval(Double(index) * 3600)
            let context = index == 0 ? trickyContext : #"{"flow":{"data":{"order":\#(1000 + index)}}}"#
            executions.append(
                execution(
                    sid: sid, account: accountA, flow: flowA, serial: 0xa100 + index, context: context,
                    status: index == 1 || index % 3 == 2 ? "active" : "ended", created: created))
        }
        executions.append(
            execution(
                sid: executionB, account: accountB, flow: flowB, serial: 0xb100,
                context: #"{"flow":{"data":{"secret":"account B only"}}}"#, status: "ended", created: base))
        state.executions.appendOldest(executions.sorted { $0.dateCreated > $1.dateCreated })
        return state
    }

    static func execution(
        sid: String, account: String, flow: String, serial: Int, context: String, status: String, created: Date
    ) -> MockExecution {
        let steps = (0..<3).map { index in
            MockStep(
                sid: MockSID.make("FT", serial * 16 + index),
                name: ["Trigger", "incomingRequest", "Ended"][index],
                context: index == 1
                    ? #"{"widgets":{"send_message":{"url":"https://studio.twilio.com/v1/x","status":"delivered"}},"n":\#(index)}"#
                    : #"{"n":\#(index)}"#,
                transitionedFrom: ["Trigger", "Trigger", "send_message"][index],
                transitionedTo: ["send_message", "split", "Ended"][index],
                dateCreated: created.addingTimeInterval(Double(index))
            )
        }
        return MockExecution(
            sid: sid, account: account, flow: flow, contactSid: MockSID.make("FC", serial),
            contactChannelAddress: "+1415555\(String(format: "%04d", serial % 10000))", context: context,
            status: status, dateCreated: created, dateUpdated: status == "ended" ? created.addingTimeInterval(60) : nil,
            steps: steps)
    }

    /// The fixture facts as JSON, for tests and `--demo`.
    public static var json: String {
        """
        {"account_a": "\(accountA)", "token_a": "\(tokenA)", "account_b": "\(accountB)", "token_b": "\(tokenB)", \
        "api_key_a": "\(apiKeyA)", "api_key_secret_a": "\(apiKeySecretA)", "flow_a": "\(flowA)", "flow_b": "\(flowB)", \
        "ended_execution_a": "\(endedExecutionA)", "active_execution_a": "\(activeExecutionA)", "execution_b": "\(executionB)"}
        """
    }
}
