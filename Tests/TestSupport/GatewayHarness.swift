import Foundation
import MockStudio

/// A real `mock-studio` and a real `studiogate` in front of it, with helpers to send requests
/// and read the mock's counters.
final class GatewayHarness {
    let mock: RunningBinary
    private(set) var gateway: RunningBinary
    let gatewayArguments: [String]
    let control: MockControl

    static let authA = RawClient.basicAuth(MockFixtures.accountA, MockFixtures.tokenA)
    static let authB = RawClient.basicAuth(MockFixtures.accountB, MockFixtures.tokenB)
    static let authKeyA = RawClient.basicAuth(MockFixtures.apiKeyA, MockFixtures.apiKeySecretA)

    init(_ gatewayArguments: [String] = []) throws {
        mock = try RunningBinary("mock-studio", ["--listen", "127.0.0.1:0", "--threads", "2"])
        self.gatewayArguments = gatewayArguments
        gateway = try Self.startGateway(mockPort: mock.port, gatewayArguments)
        control = MockControl(port: mock.port)
    }

    static func startGateway(mockPort: UInt16, _ arguments: [String]) throws -> RunningBinary {
        try RunningBinary(
            "studiogate",
            ["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(mockPort)", "--threads", "2"] + arguments)
    }

    /// A new gateway process (same arguments) in front of the same mock.
    func restartGateway(killing signal: Int32 = SIGKILL) throws {
        gateway.signal(signal)
        gateway.process.waitUntilExit()
        gateway = try Self.startGateway(mockPort: mock.port, gatewayArguments)
    }

    func stop() {
        gateway.stop()
        mock.stop()
    }

    static func send(
        _ port: UInt16, _ method: String, _ target: String, auth: String?, body: String = "", extraHeaders: String = "",
        host: String = "127.0.0.1"
    ) throws -> RawClient.Response {
        let client = try RawClient(port: port)
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\n"
        if let auth { head += "Authorization: \(auth)\r\n" }
        if !body.isEmpty {
            head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n"
        }
        client.send(head + extraHeaders + "\r\n" + body)
        return try client.readResponse()
    }

    func viaGateway(_ method: String, _ target: String, auth: String?, body: String = "", extraHeaders: String = "")
        throws -> RawClient.Response
    {
        try Self.send(gateway.port, method, target, auth: auth, body: body, extraHeaders: extraHeaders)
    }

    func get(
        _ target: String, auth: String? = GatewayHarness.authA, extraHeaders: String = "", host: String = "127.0.0.1"
    ) throws -> RawClient.Response {
        try Self.send(gateway.port, "GET", target, auth: auth, extraHeaders: extraHeaders, host: host)
    }

    func direct(_ method: String, _ target: String, auth: String?) throws -> RawClient.Response {
        try Self.send(mock.port, method, target, auth: auth)
    }
}
