import EventLoop
import Foundation
import Locking
import TLS
import XCTest

@testable import Redis
@testable import TestSupport

/// rediss:// against a real `redis-server` speaking TLS only, with certificates from a throwaway
/// CA (issue 26): the right CA works, for commands and a subscription; a wrong CA, a certificate
/// for another name, a plaintext port and a missing client certificate all fail closed within the
/// connect timeout with a reason that says why. Every wait is bounded.
final class RedisTLSTests: XCTestCase {
    var certificates: TestCertificates!
    var redis: RedisServerProcess?
    var harness: RedisLoopHarness!

    override func setUpWithError() throws {
        try RedisServerProcess.skipUnlessInstalled()
        try TestCertificates.skipUnlessInstalled()
        certificates = try TestCertificates()
        harness = try RedisLoopHarness()
    }

    override func tearDown() {
        harness?.shutdown()
        redis?.stop()
        certificates?.remove()
    }

    @discardableResult
    func startRedis(
        certificate: (certificate: String, key: String)? = nil, authClients: Bool = false, arguments: [String] = []
    ) throws -> RedisServerProcess {
        let (file, key) = certificate ?? certificates.server
        let started = try RedisServerProcess(
            arguments: arguments,
            tls: .init(certificate: file, key: key, caFile: certificates.caFile, authClients: authClients))
        redis = started
        return started
    }

    func client(
        _ url: String? = nil, tls: TLSConfiguration? = nil, connectTimeoutMilliseconds: Int = 2_000
    ) throws -> RedisClient {
        var options = RedisClient.Options()
        options.commandTimeoutMilliseconds = 2_000
        options.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        options.reconnectMaxMilliseconds = 100
        // The reasons are what these tests read: an open circuit would hide them.
        options.circuitFailureThreshold = 1_000_000
        options.tls = tls ?? TLSConfiguration(caFile: certificates.caFile)
        return RedisClient(url: try RedisURL(parsing: url ?? "rediss://127.0.0.1:\(redis!.port)"), options: options)
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Pings until one fails with a reason containing `text` (or `seconds` pass); that reason.
    /// Nothing may succeed meanwhile: the connection must fail closed.
    func failure(of client: RedisClient, containing text: String, seconds: Double = 10) -> String? {
        let end = MonotonicClock.now() + MonotonicClock.nanoseconds(seconds)
        var last = "no failure"
        while MonotonicClock.now() < end {
            switch harness.ping(client, timeoutMilliseconds: 300) {
            case .success?:
                XCTFail("a command succeeded over a connection that must fail closed")
                return nil
            case .failure(let error)?:
                last = error.description
                if last.contains(text) { return last }
            case nil:
                last = "no answer from the harness"
            }
            usleep(20_000)
        }
        XCTFail("no failure mentioning '\(text)' within \(seconds) s; last: \(last)")
        return nil
    }

    // MARK: working

    func testSetAndGetOverTLSWithTheRightCA() throws {
        try startRedis(arguments: ["--requirepass", "s3cret"])
        let client = try client("rediss://:s3cret@127.0.0.1:\(redis!.port)/2")
        XCTAssertEqual(try harness.set(client, "entry:{AC1}:a", bytes("over TLS"))?.get(), true)
        XCTAssertEqual(try harness.get(client, "entry:{AC1}:a")?.get(), bytes("over TLS"))
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        XCTAssertEqual(try harness.set(client, "large", large)?.get(), true, "many records each way")
        XCTAssertEqual(try harness.get(client, "large")?.get(), large)
        XCTAssertEqual(client.stats.errors.load(ordering: .relaxed), 0)
        XCTAssertNil(client.tlsSetupError)
        // By name too: SNI and the DNS SAN.
        let byName = try self.client("rediss://:s3cret@localhost:\(redis!.port)/2")
        XCTAssertTrue(harness.waitUntilAnswering(byName), "the host name is looked up first")
        XCTAssertEqual(try harness.get(byName, "entry:{AC1}:a")?.get(), bytes("over TLS"))
    }

    func testASubscriptionWorksOverTLS() throws {
        try startRedis()
        let client = try client()
        let subscribed = expectation(description: "subscribed")
        let received = expectation(description: "message")
        let events = Locked<[RedisSubscriptionEvent]>([])
        let subscription = harness.subscribe(client, ["invalidate"]) { event in
            events.withLock { $0.append(event) }
            if case .subscribed = event { subscribed.fulfill() }
            if case .message = event { received.fulfill() }
        }
        wait(for: [subscribed], timeout: 5)
        let receivers = harness.run { loop, done in client.publish("invalidate", [7, 8], on: loop) { done($0) } }
        XCTAssertEqual(try receivers?.get(), 1)
        wait(for: [received], timeout: 5)
        XCTAssertEqual(
            events.withLock { $0 }, [.subscribed(resumed: false), .message(channel: "invalidate", payload: [7, 8])])
        subscription?.cancel()
    }

    // MARK: failing closed

    func testAnotherCAFailsCertificateVerification() throws {
        try startRedis()
        let client = try client(tls: TLSConfiguration(caFile: certificates.otherCAFile))
        let reason = failure(of: client, containing: "certificate verification failed")
        XCTAssertTrue(reason?.contains("TLS handshake with 127.0.0.1 failed") == true, reason ?? "")
        let system = try self.client(tls: TLSConfiguration())
        XCTAssertNotNil(failure(of: system, containing: "certificate verification failed"), "the system store")
    }

    func testACertificateForAnotherNameFailsHostNameVerification() throws {
        try startRedis(certificate: certificates.elsewhere)
        let byAddress = try client()
        let reason = failure(of: byAddress, containing: "certificate verification failed")
        XCTAssertTrue(reason?.contains("IP address mismatch") == true, reason ?? "")
        let byName = try client("rediss://localhost:\(redis!.port)")
        let named = failure(of: byName, containing: "certificate verification failed")
        XCTAssertTrue(named?.contains("hostname mismatch") == true, named ?? "")
    }

    func testRedissToAPlaintextPortFailsWithinTheConnectTimeout() throws {
        let plaintext = try RedisServerProcess()
        defer { plaintext.stop() }
        let client = try client("rediss://127.0.0.1:\(plaintext.port)", connectTimeoutMilliseconds: 300)
        let started = MonotonicClock.now()
        // Redis waits for a line that never comes: the connect deadline ends the TLS handshake.
        let reason = failure(of: client, containing: "no TLS session within 300 ms")
        XCTAssertLessThan(MonotonicClock.now() - started, MonotonicClock.nanoseconds(5), reason ?? "")
    }

    func testMutualTLSRefusesAClientWithoutACertificateAndAcceptsOneWithIt() throws {
        try startRedis(authClients: true)
        let anonymous = try client()
        // TLS 1.3: the client's side of the handshake ends before the server refuses, with an alert.
        XCTAssertNotNil(failure(of: anonymous, containing: "alert certificate required"))
        let (certificate, key) = certificates.client
        let identified = try client(
            tls: TLSConfiguration(caFile: certificates.caFile, certificateFile: certificate, keyFile: key))
        XCTAssertTrue(harness.waitUntilAnswering(identified))
        XCTAssertEqual(try harness.set(identified, "k", bytes("mutual"))?.get(), true)
        XCTAssertEqual(try harness.get(identified, "k")?.get(), bytes("mutual"))
    }

    func testUnusableTLSFilesFailEveryConnectWithTheirReason() throws {
        try startRedis()
        let (certificate, _) = certificates.client
        let mismatched = try client(
            tls: TLSConfiguration(
                caFile: certificates.caFile, certificateFile: certificate, keyFile: certificates.server.key))
        let setup = mismatched.tlsSetupError?.reason ?? "none"
        XCTAssertTrue(setup.hasPrefix("cannot load the client key \(certificates.server.key)"), setup)
        XCTAssertNotNil(failure(of: mismatched, containing: "cannot load the client key"))
        let notACA = try client(tls: TLSConfiguration(caFile: certificates.path("server.cnf")))
        XCTAssertTrue(notACA.tlsSetupError?.reason.contains("cannot load the CA file") == true)
    }
}
