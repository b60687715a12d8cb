import Foundation
import XCTest

/// A throwaway PKI made by the `openssl` CLI in a temporary directory (P-256 keys: quick to
/// make): a CA; a server certificate it signed for 127.0.0.1 and localhost; another server
/// certificate it signed for a different name only; a client certificate for mutual TLS; and a
/// second CA that signed nothing the servers show. Removed by `remove()`.
final class TestCertificates {
    let directory: URL

    static func skipUnlessInstalled() throws {
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"),
            "openssl is not installed (.ci/run installs it)")
    }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "studiogate-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        func ca(_ name: String) -> String {
            "openssl req -x509 \(key) -keyout \(name).key -out \(name).crt -days 2 -subj '/CN=StudioGate \(name)'"
        }
        func signed(_ name: String, usage: String, san: String?) -> String {
            let extensions =
                (san.map { "subjectAltName=\($0)\\n" } ?? "")
                + "basicConstraints=CA:FALSE\\nextendedKeyUsage=\(usage)\\n"
            return """
                openssl req \(key) -keyout \(name).key -out \(name).csr -subj '/CN=\(name)' && \
                printf '\(extensions)' > \(name).cnf && \
                openssl x509 -req -in \(name).csr -CA ca.crt -CAkey ca.key -CAcreateserial -out \(name).crt -days 2 \
                -extfile \(name).cnf
                """
        }
        try run(
            [
                ca("ca"), ca("other-ca"),
                signed("server", usage: "serverAuth", san: "IP:127.0.0.1,DNS:localhost"),
                signed("elsewhere", usage: "serverAuth", san: "DNS:cache.example.net"),
                signed("client", usage: "clientAuth", san: nil),
            ].joined(separator: " && "))
    }

    func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    var caFile: String { path("ca.crt") }
    /// A CA that signed none of the certificates.
    var otherCAFile: String { path("other-ca.crt") }
    /// Names IP:127.0.0.1 and DNS:localhost.
    var server: (certificate: String, key: String) { (path("server.crt"), path("server.key")) }
    /// Names DNS:cache.example.net only.
    var elsewhere: (certificate: String, key: String) { (path("elsewhere.crt"), path("elsewhere.key")) }
    var client: (certificate: String, key: String) { (path("client.crt"), path("client.key")) }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    private func run(_ command: String) throws {
        try runShell(command, in: directory, what: "making the test certificates failed")
    }
}
