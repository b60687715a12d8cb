import EventLoop

/// What the connections of one client on one loop share: where Redis is, the options, the
/// counters, and the loop's read buffer.
final class RedisLoopContext {
    let loop: EventLoop
    let url: RedisURL
    let options: RedisClient.Options
    let resolver: RedisAddressResolver
    let stats: RedisStats
    let readBuffer = RedisReadBuffer()

    init(
        loop: EventLoop, url: RedisURL, options: RedisClient.Options, resolver: RedisAddressResolver,
        stats: RedisStats
    ) {
        self.loop = loop
        self.url = url
        self.options = options
        self.resolver = resolver
        self.stats = stats
    }

    func openSocket(delegate: RedisSocketDelegate, attempt: Int) -> Result<RedisSocket, RedisError> {
        switch resolver.address(attempt: attempt) {
        case .failure(let error):
            return .failure(error)
        case .success(let address):
            let opened = RedisSocket.open(
                to: address, loop: loop, delegate: delegate, limits: options.limits,
                maxOutputBytes: options.maxOutputBytes, readBuffer: readBuffer)
            if case .failure = opened { resolver.connectFailed() }
            return opened
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
