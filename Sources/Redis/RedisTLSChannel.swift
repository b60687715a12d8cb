import TLS

/// The TLS of one rediss:// socket: RESP commands in, records out; records in, RESP bytes to the
/// parser. Commands written before the session is established (a subscriber queues its login
/// and SUBSCRIBE at once) wait here as plaintext and are encrypted when it is.
final class RedisTLSChannel {
    private let session: TLSSession
    /// Plaintext queued before the handshake completed.
    private var early: [UInt8] = []
    /// One command's encoding, then its plaintext replies: reused to spare allocations.
    private var scratch: [UInt8] = []

    init(session: TLSSession) { self.session = session }

    var isEstablished: Bool { session.isEstablished }

    /// Plaintext held until the handshake completes (counted against the output bound).
    var heldBytes: Int { early.count }

    /// Sends the ClientHello (appended to `output`).
    func start(output: inout [UInt8]) -> TLSSession.HandshakeStep {
        let step = session.startHandshake()
        session.takeCiphertext(appendingTo: &output)
        return step
    }

    /// Goes on with the handshake on `ciphertext`; once complete, the early commands are encrypted
    /// into `output` after the handshake's last bytes.
    func handshake(receiving ciphertext: UnsafeRawBufferPointer, output: inout [UInt8]) -> TLSSession.HandshakeStep {
        let step = session.advanceHandshake(receiving: ciphertext)
        session.takeCiphertext(appendingTo: &output)
        guard step == .complete, !early.isEmpty else { return step }
        defer { early = [] }
        do throws(TLSError) {
            try session.encrypt(early, appendingTo: &output)
        } catch {
            return .failed(error)
        }
        return step
    }

    /// Encrypts `command` into `output`, or holds it until the session is established.
    func write(_ command: RedisCommand, output: inout [UInt8]) throws(TLSError) {
        guard session.isEstablished else {
            RESPEncoder.append(command, to: &early)
            return
        }
        scratch.removeAll(keepingCapacity: scratch.capacity <= 64 * 1024)
        RESPEncoder.append(command, to: &scratch)
        try session.encrypt(scratch, appendingTo: &output)
    }

    /// Decrypts `ciphertext` into `parser`; whatever the engine answers (an alert, a key update)
    /// is appended to `output`.
    func receive(
        _ ciphertext: UnsafeRawBufferPointer, into parser: inout RESPParser, output: inout [UInt8]
    ) -> TLSSession.ReadOutcome {
        scratch.removeAll(keepingCapacity: scratch.capacity <= 64 * 1024)
        let outcome = session.decrypt(ciphertext, appendingTo: &scratch)
        if !scratch.isEmpty { scratch.withUnsafeBytes { parser.feed($0) } }
        if session.hasCiphertext { session.takeCiphertext(appendingTo: &output) }
        return outcome
    }
}
