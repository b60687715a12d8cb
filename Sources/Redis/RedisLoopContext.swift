import EventLoop
import TLS

/// What the connections of one client on one loop share: where Redis is, the options, the TLS
/// context (rediss://), the counters, and the loop's read buffer.
final class RedisLoopContext {
    let loop: EventLoop
    let url: RedisURL
    let options: RedisClient.Options
    let resolver: RedisAddressResolver
    /// nil for plaintext; a failure (an unreadable CA file) fails every connect with its reason.
    let tls: Result<TLSContext, TLSError>?
    let stats: RedisStats
    let readBuffer = RedisReadBuffer()

    init(
        loop: EventLoop, url: RedisURL, options: RedisClient.Options, resolver: RedisAddressResolver,
        tls: Result<TLSContext, TLSError>? = nil, stats: RedisStats
    ) {
        self.loop = loop
        self.url = url
        self.options = options
        self.resolver = resolver
        self.tls = tls
        self.stats = stats
    }

    func openSocket(delegate: RedisSocketDelegate, attempt: Int) -> Result<RedisSocket, RedisError> {
        switch resolver.address(attempt: attempt) {
        case .failure(let error):
            return .failure(error)
        case .success(let address):
            let channel: RedisTLSChannel?
            switch tlsChannel() {
            case .failure(let error): return .failure(error)
            case .success(let made): channel = made
            }
            let opened = RedisSocket.open(
                to: address, loop: loop, delegate: delegate, limits: options.limits,
                maxOutputBytes: options.maxOutputBytes, readBuffer: readBuffer, tls: channel)
            if case .failure = opened { resolver.connectFailed() }
            return opened
        }
    }

    /// A new TLS session for the URL's host (the name the certificate must carry, not the address
    /// it resolved to); nil for plaintext.
    private func tlsChannel() -> Result<RedisTLSChannel?, RedisError> {
        guard let tls else { return .success(nil) }
        guard case .tcp(let host, _) = url.endpoint else { return .failure(.notConnected("TLS needs a TCP endpoint")) }
        do throws(TLSError) {
            return .success(RedisTLSChannel(session: try tls.get().makeSession(serverName: host)))
        } catch {
            return .failure(.notConnected(error.reason))
        }
    }

    /// AUTH (when there is a password) and SELECT (when the database is not 0), sent first on every
    /// new connection; a subscriber needs no SELECT (channels are not per database).
    func handshake(selectDatabase: Bool) -> [RedisCommand] {
        var commands: [RedisCommand] = []
        if let password = url.password { commands.append(.auth(username: url.username, password: password.revealed)) }
        if selectDatabase, url.database != 0 { commands.append(.select(url.database)) }
        return commands
    }

    func backoff() -> ReconnectBackoff {
        ReconnectBackoff(
            initial: UInt64(options.reconnectInitialMilliseconds) * 1_000_000,
            maximum: UInt64(options.reconnectMaxMilliseconds) * 1_000_000)
    }
}
