import COpenSSL

/// One `SSL_CTX` for TLS clients: the trusted CAs, the client certificate if any, TLS 1.2 at
/// least, and peer verification always on. Sessions come from `makeSession`, on any thread.
///
/// `@unchecked Sendable`: the `SSL_CTX` is configured in `init` and never changed afterwards, and
/// OpenSSL allows `SSL_new` on a configured context from several threads at once.
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    public let configuration: TLSConfiguration

    public init(configuration: TLSConfiguration) throws(TLSError) {
        guard (configuration.certificateFile == nil) == (configuration.keyFile == nil) else {
            throw TLSError("a client certificate needs its key file and a key file its certificate")
        }
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw .openSSL("cannot create a TLS context") }
        self.context = context
        self.configuration = configuration
        // An encrypted key would otherwise make OpenSSL prompt for its passphrase on the terminal.
        SSL_CTX_set_default_passwd_cb(context) { _, _, _, _ in 0 }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        guard copenssl_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw .openSSL("cannot require TLS 1.2")
        }
        if let caFile = configuration.caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                throw .openSSL("cannot load the CA file \(caFile)")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw .openSSL("cannot load the system's CA store")
            }
        }
        if let certificateFile = configuration.certificateFile, let keyFile = configuration.keyFile {
            guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
                throw .openSSL("cannot load the client certificate \(certificateFile)")
            }
            guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1 else {
                throw .openSSL("cannot load the client key \(keyFile)")
            }
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw .openSSL("the client key \(keyFile) does not match the certificate \(certificateFile)")
            }
        }
    }

    deinit { SSL_CTX_free(context) }

    /// A client session that will accept only a certificate for `serverName` (a host name or an
    /// IP address), confined to the thread that uses it.
    public func makeSession(serverName: String) throws(TLSError) -> TLSSession {
        try TLSSession(context: self, serverName: serverName)
    }
}
