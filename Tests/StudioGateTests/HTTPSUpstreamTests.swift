import Foundation
import Glibc
import MockStudio
import XCTest

/// The upstream over real TLS: a Python TLS terminator with a certificate from a throwaway CA,
/// in front of the mock. FoundationNetworking trusts only the system store, so the trusting half
/// installs the CA with update-ca-certificates (root only, as in CI) and removes it afterwards.
final class HTTPSUpstreamTests: XCTestCase {
    var directory: URL!
    var mock: RunningBinary!
    var terminator: RunningBinary!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "openssl is not installed")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "python3 is not installed")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("studiogate-tls-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try makeCertificates()
        mock = try RunningBinary("mock-studio", ["--listen", "127.0.0.1:0"])
        terminator = try RunningBinary(
            executable: URL(fileURLWithPath: "/usr/bin/python3"),
            [RunningBinary.packageDirectory.appendingPathComponent("Tests/tls/tls_terminator.py").path,
             directory.appendingPathComponent("server.crt").path, directory.appendingPathComponent("server.key").path, String(mock.port)]
        )
    }

    override func tearDown() {
        terminator?.stop()
        mock?.stop()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func run(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw NSError(domain: "sh", code: Int(process.terminationStatus), userInfo: [NSLocalizedDescriptionKey: command]) }
    }

    func makeCertificates() throws {
        try run("""
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=StudioGate Test CA' && \
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=127.0.0.1' && \
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf && \
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf
        """)
    }

    func fetchThroughGateway() throws -> RawClient.Response {
        let gateway = try RunningBinary("studiogate", ["--listen", "127.0.0.1:0", "--upstream", "https://127.0.0.1:\(terminator.port)", "--upstream-timeout", "5"])
        defer { gateway.stop() }
        let client = try RawClient(port: gateway.port)
        client.send("GET /v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA) HTTP/1.1\r\nHost: x\r\nAuthorization: \(RawClient.basicAuth(MockFixtures.accountA, MockFixtures.tokenA))\r\n\r\n")
        return try client.readResponse()
    }

    func testUntrustedCertificateIsRefusedWith502() throws {
        let response = try fetchThroughGateway()
        XCTAssertEqual(response.status, 502)
        XCTAssertEqual(response.json?["code"] as? Int, 20502)
        XCTAssertEqual(try MockControl(port: mock.port).totalCount(), 0, "nothing may reach the upstream over an untrusted TLS connection")
    }

    func testTrustedCertificateCarriesRequestsOverHTTPS() throws {
        let anchors = "/usr/local/share/ca-certificates"
        try XCTSkipUnless(getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/update-ca-certificates")
                          && FileManager.default.fileExists(atPath: anchors), "trusting a test CA needs root and update-ca-certificates (CI has both)")
        let installed = "\(anchors)/studiogate-test-\(getpid()).crt"
        try FileManager.default.copyItem(atPath: directory.appendingPathComponent("ca.crt").path, toPath: installed)
        defer {
            try? FileManager.default.removeItem(atPath: installed)
            try? run("update-ca-certificates --fresh")
        }
        try run("update-ca-certificates")
        let response = try fetchThroughGateway()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json?["sid"] as? String, MockFixtures.endedExecutionA)
        XCTAssertEqual(try MockControl(port: mock.port).count("/v2/Flows/\(MockFixtures.flowA)/Executions/\(MockFixtures.endedExecutionA)"), 1)
    }
}
