/// What a TLS client trusts and what it shows. Verifying the peer is not among the choices: the
/// certificate chain and the host name are always checked.
public struct TLSConfiguration: Sendable, Equatable {
    /// PEM file of the CAs that may sign the peer's certificate; nil: the system's store.
    public var caFile: String?
    /// The client certificate (PEM, its chain may follow) for mutual TLS; needs `keyFile`.
    public var certificateFile: String?
    /// The certificate's private key (PEM, not encrypted); needs `certificateFile`.
    public var keyFile: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}
