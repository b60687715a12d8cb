import COpenSSL
import Glibc

/// One TLS client connection as a pure engine, the way SwiftNIO-SSL and Envoy drive OpenSSL for
/// non-blocking I/O: the `SSL` reads and writes two memory BIOs, never a socket. The caller moves
/// the bytes: what the socket received goes in (`advanceHandshake(receiving:)`, `decrypt`), and
/// what `takeCiphertext` hands back goes out, so the caller's event loop keeps all the I/O.
///
/// The peer's certificate must chain to the context's CAs and name `serverName` (a DNS name, or
/// an IP address in its SAN); SNI carries the name (never an IP address, RFC 6066).
///
/// Confined to the thread that uses it (a connection's loop): not `Sendable`.
public final class TLSSession {
    public enum HandshakeStep: Sendable, Equatable {
        /// Send `takeCiphertext`, then call again with what the peer answers.
        case wantsMoreInput
        /// Established: `encrypt` and `decrypt` may be used.
        case complete
        case failed(TLSError)
    }

    public enum ReadOutcome: Sendable, Equatable {
        /// Every whole record was decrypted; more may follow.
        case open
        /// The peer ended the session (close_notify); what came before it was delivered.
        case closeNotify
        case failed(TLSError)
    }

    private let ssl: OpaquePointer
    /// Ciphertext from the peer, read by the `SSL`.
    private let received: OpaquePointer
    /// Ciphertext the `SSL` wrote for the peer.
    private let toSend: OpaquePointer
    private let context: TLSContext
    /// Where `SSL_read` puts plaintext before it is appended to the caller's bytes.
    private var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    public private(set) var isEstablished = false
    public let serverName: String

    init(context: TLSContext, serverName: String) throws(TLSError) {
        guard !serverName.isEmpty else { throw TLSError("no server name to verify the certificate against") }
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.context) else { throw .openSSL("cannot create a TLS session") }
        guard let received = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw .openSSL("cannot create a memory BIO")
        }
        guard let toSend = BIO_new(BIO_s_mem()) else {
            BIO_free(received)
            SSL_free(ssl)
            throw .openSSL("cannot create a memory BIO")
        }
        // Empty is "not yet", not end of file: the SSL reports WANT_READ.
        _ = copenssl_bio_set_mem_eof_return(received, -1)
        _ = copenssl_bio_set_mem_eof_return(toSend, -1)
        SSL_set_bio(ssl, received, toSend)  // the SSL owns both now
        SSL_set_connect_state(ssl)
        self.ssl = ssl
        self.received = received
        self.toSend = toSend
        self.context = context
        self.serverName = serverName
        if Self.isIPAddress(serverName) {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName) == 1 else {
                throw .openSSL("cannot check the certificate for \(serverName)")
            }
        } else {
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            guard SSL_set1_host(ssl, serverName) == 1 else {
                throw .openSSL("cannot check the certificate for \(serverName)")
            }
            guard copenssl_set_tlsext_host_name(ssl, serverName) == 1 else {
                throw .openSSL("cannot send \(serverName) as the server name (SNI)")
            }
        }
    }

    deinit { SSL_free(ssl) }

    // MARK: handshake

    /// Writes the ClientHello (take it with `takeCiphertext`).
    public func startHandshake() -> HandshakeStep { step() }

    /// Goes on with the handshake after the peer answered `ciphertext`.
    public func advanceHandshake(receiving ciphertext: UnsafeRawBufferPointer) -> HandshakeStep {
        feed(ciphertext)
        return step()
    }

    private func step() -> HandshakeStep {
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            isEstablished = true
            return .complete
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wantsMoreInput
        default: return .failed(failure("TLS handshake with \(serverName) failed"))
        }
    }

    // MARK: bytes

    /// Ciphertext from the peer, for the next handshake step or `decrypt`.
    public func feed(_ ciphertext: UnsafeRawBufferPointer) {
        guard let base = ciphertext.baseAddress, !ciphertext.isEmpty else { return }
        // A memory BIO takes everything (it grows); counts come from a socket read, far below 2 GiB.
        _ = BIO_write(received, base, Int32(ciphertext.count))
    }

    /// Bytes written by the engine (handshake, records, alerts) and not yet taken.
    public var hasCiphertext: Bool { BIO_ctrl_pending(toSend) > 0 }

    /// Appends what the engine wrote for the peer to `output`, for the caller to send.
    public func takeCiphertext(appendingTo output: inout [UInt8]) {
        let pending = Int(BIO_ctrl_pending(toSend))
        guard pending > 0 else { return }
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: pending))
        let read = output.withUnsafeMutableBytes { BIO_read(toSend, $0.baseAddress! + start, Int32(pending)) }
        output.removeLast(pending - max(0, Int(read)))
    }

    /// Encrypts `plaintext` into records appended to `output`. Only once established.
    public func encrypt(_ plaintext: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws(TLSError) {
        guard isEstablished else { throw TLSError("TLS write before the handshake completed") }
        OpenSSLErrorQueue.clear()
        var offset = 0
        while offset < plaintext.count {
            let length = Int32(min(plaintext.count - offset, 1 << 20))
            let written = SSL_write(ssl, plaintext.baseAddress! + offset, length)
            guard written > 0 else { throw failure("TLS write failed") }
            offset += Int(written)
        }
        takeCiphertext(appendingTo: &output)
    }

    public func encrypt(_ plaintext: [UInt8], appendingTo output: inout [UInt8]) throws(TLSError) {
        try plaintext.withUnsafeBytes { bytes in
            Result { () throws(TLSError) in try encrypt(bytes, appendingTo: &output) }
        }.get()
    }

    /// Decrypts `ciphertext` (with whatever earlier input held back), appending the plaintext of
    /// every whole record to `plaintext`. The engine may have written something to send (a key
    /// update, an alert): check `hasCiphertext`.
    public func decrypt(_ ciphertext: UnsafeRawBufferPointer, appendingTo plaintext: inout [UInt8]) -> ReadOutcome {
        feed(ciphertext)
        OpenSSLErrorQueue.clear()
        while true {
            let read = chunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if read > 0 {
                plaintext.append(contentsOf: chunk[0..<Int(read)])
                continue
            }
            switch SSL_get_error(ssl, read) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .open
            case SSL_ERROR_ZERO_RETURN: return .closeNotify
            default: return .failed(failure("TLS read failed"))
            }
        }
    }

    // MARK: failures

    /// A failed verification says why (`certificate verification failed: hostname mismatch`);
    /// anything else says what OpenSSL queued.
    private func failure(_ what: String) -> TLSError {
        let verification = SSL_get_verify_result(ssl)
        if verification != X509_V_OK {
            OpenSSLErrorQueue.clear()
            let reason = String(cString: X509_verify_cert_error_string(verification))
            return TLSError("\(what): certificate verification failed: \(reason)")
        }
        return .openSSL(what)
    }

    private static func isIPAddress(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, text, &address) == 1 || inet_pton(AF_INET6, text, &address) == 1
    }
}
