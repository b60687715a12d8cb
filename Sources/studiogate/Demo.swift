import EventLoop
import HTTPServer
import MockStudio

/// `--demo`: the gateway in front of the embedded mock Studio, with commands that work offline.
enum Demo {
    static func startMockStudio() throws -> HTTPServer {
        let address = try SocketAddress(parsing: "127.0.0.1:0")
        return try HTTPServer(
            configuration: HTTPServerConfiguration(address: address, threads: 1), handler: MockStudio())
    }

    static func instructions(gateway: String) -> String {
        let auth = "\(MockFixtures.accountA):\(MockFixtures.tokenA)"
        let flow = MockFixtures.flowA
        let ended = MockFixtures.endedExecutionA
        return """

            Demo mode: an embedded mock Studio is the upstream (no Twilio account needed).
            Account \(MockFixtures.accountA), auth token \(MockFixtures.tokenA). Try (-i shows the
            response head: X-Cache says where each answer came from):

              curl -sS -i -u '\(auth)' '\(gateway)/v2/Flows/\(flow)/Executions?PageSize=3'
              curl -sS -i -u '\(auth)' '\(gateway)/v2/Flows/\(flow)/Executions/\(ended)'   # X-Cache: MISS
              curl -sS -i -u '\(auth)' '\(gateway)/v2/Flows/\(flow)/Executions/\(ended)'   # again: X-Cache: HIT
              curl -sS -i -u '\(auth)' '\(gateway)/v2/Flows/\(flow)/Executions/\(ended)/Context'
              curl -sS -i -u '\(auth)' '\(gateway)/v2/Flows/\(flow)/Executions/\(ended)/Steps'
              curl -sS -i -u '\(auth)' '\(gateway)/v1/Flows/\(flow)/Engagements/\(ended)'
              curl -sS -i -u '\(auth)' -X POST '\(gateway)/v2/Flows/\(flow)/Executions' \\
                --data-urlencode 'To=+15551230000' --data-urlencode 'From=+15557650000'
              curl -sS '\(gateway)/metrics'

            Stop with Ctrl-C.
            """
    }
}
