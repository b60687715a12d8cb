import EventLoop
import Foundation
import Glibc
import Locking
import Redis

/// An in-memory Redis on a loopback port, for the fleet's tests to run in process: strings and sets
/// with millisecond expiry on an injectable clock, pub/sub across connections, and Redis 7's RESP2
/// replies to the commands the gateway sends (GET, SET PX NX, DEL, SADD, SMEMBERS, PEXPIRE,
/// PUBLISH, SUBSCRIBE, PING, AUTH, SELECT) and a few to inspect (PTTL, EXISTS, KEYS). Tests read
/// and steer it directly too: plant a value, see which commands came, make it hang, drop every
/// connection.
///
/// Every command runs under one lock, and a connection's replies and pushed messages queue under
/// it too, so commands are as atomic and ordered as in single-threaded Redis: a subscriber hears
/// its confirmation before any message. Blocking sockets on threads of its own, like
/// `RedisFakeServer`; each connection waits in poll() on its socket and a pipe that publishers
/// write to, with a short timeout so `pause` and `stop` reach it promptly. Keys and channels are
/// text (UTF-8), as the gateway's are. Its threads keep it alive until `stop`, so tests call it.
///
/// Alone it is a single node: CLUSTER and ASKING answer `ERR This instance has cluster support
/// disabled`, as Redis 7 without `cluster-enabled` does. As a node of a `RedisMemoryCluster` it
/// answers CLUSTER SHARDS and SLOTS with the whole layout, refuses a key of a slot it does not own
/// (MOVED), sends a key missing from a slot it is migrating to the importing node (ASK), which
/// takes it only right after ASKING; pub/sub messages reach every node's subscribers.
final class RedisMemoryServer: Sendable {
    /// A clock tests move by hand, to pass a TTL without sleeping.
    struct ManualClock: Sendable {
        private let milliseconds: Locked<Int64>

        init(startingAt start: Int64 = 1_000_000) { milliseconds = Locked(start) }

        func now() -> Int64 { milliseconds.withLock { $0 } }

        func advance(milliseconds step: Int64) { milliseconds.withLock { $0 += step } }
    }

    private enum Value {
        case string([UInt8])
        case set(Set<[UInt8]>)
    }

    private struct Entry {
        var value: Value
        /// On the server's clock, in milliseconds; nil never expires.
        var expiresAt: Int64?
    }

    /// An open connection, as publishers and `disconnectAll` see it. Its thread takes it out of
    /// `State.peers` before closing its fds, so nobody touches an fd the kernel may have reused.
    private struct Peer {
        let socket: Int32
        /// The write end of the pipe that wakes the connection's thread when `outbox` grows.
        let wake: Int32
        var outbox: [UInt8] = []
        var channels: Set<String> = []
    }

    private struct State {
        var databases: [Int: [String: Entry]] = [:]
        var peers: [Int: Peer] = [:]
        var nextPeer = 0
        var accepted = 0
        var log: [String] = []
        var paused = false
        var running = true
    }

    /// What one connection knows of itself; only its thread uses it.
    private struct Session {
        let id: Int
        var database = 0
        var authenticated: Bool
        /// Set by ASKING, for the next command only (cluster mode).
        var asking = false
        /// Messages published here, for the other nodes of the cluster once the lock is released.
        var published: [(channel: String, message: [UInt8])] = []
    }

    let port: UInt16
    private let listenFD: Int32
    private let password: String?
    private let clock: @Sendable () -> Int64
    private let state = Locked(State())
    private let threads = Locked(0)
    /// Which node of which cluster this is; nil for a single node.
    private let node: RedisMemoryCluster.Node?

    static let databaseCount = 16

    static func monotonicMilliseconds() -> Int64 { Int64(MonotonicClock.now() / 1_000_000) }

    /// `password`: what AUTH must give (`requirepass`), for the default user. `clock`: the time in
    /// milliseconds that expiry is measured on.
    /// `node`: set by `RedisMemoryCluster` for its nodes.
    init(
        password: String? = nil, clock: @escaping @Sendable () -> Int64 = RedisMemoryServer.monotonicMilliseconds,
        node: RedisMemoryCluster.Node? = nil
    ) {
        self.password = password
        self.clock = clock
        self.node = node
        let (fd, port) = LoopbackPort.bind()
        listenFD = fd
        self.port = port
        _ = listen(fd, 64)
        spawn { [self] in acceptLoop() }
    }

    var url: RedisURL {
        RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port), password: password.map { RedisSecret($0) })
    }

    // MARK: inspecting and steering

    /// A string's value; nil when the key is missing, expired or a set.
    func value(of key: String, database: Int = 0) -> [UInt8]? {
        let now = clock()
        return state.withLock { state -> [UInt8]? in
            guard case .string(let bytes)? = Self.live(key, database, &state, now)?.value else { return nil }
            return bytes
        }
    }

    /// A set's members; nil when the key is missing, expired or a string.
    func members(of key: String, database: Int = 0) -> Set<String>? {
        let now = clock()
        return state.withLock { state -> Set<String>? in
            guard case .set(let members)? = Self.live(key, database, &state, now)?.value else { return nil }
            return Set(members.map { String(decoding: $0, as: UTF8.self) })
        }
    }

    /// As PTTL answers: the milliseconds left, -1 for a key that never expires, -2 for none.
    func ttlMilliseconds(of key: String, database: Int = 0) -> Int {
        let now = clock()
        return state.withLock { state in Self.ttl(Self.live(key, database, &state, now), now: now) }
    }

    /// The live keys that start with `prefix`, sorted.
    func keys(matching prefix: String = "", database: Int = 0) -> [String] {
        let now = clock()
        return state.withLock { state in
            Self.purge(database, &state, now)
            return state.databases[database, default: [:]].keys.filter { $0.hasPrefix(prefix) }.sorted()
        }
    }

    /// Plants a string (e.g. a forged entry), replacing whatever the key held.
    func set(_ key: String, _ value: [UInt8], expireMilliseconds: Int? = nil, database: Int = 0) {
        let now = clock()
        state.withLock { state in
            let expiresAt = expireMilliseconds.map { now + Int64($0) }
            state.databases[database, default: [:]][key] = Entry(value: .string(value), expiresAt: expiresAt)
        }
    }

    /// True when the key existed.
    @discardableResult
    func delete(_ key: String, database: Int = 0) -> Bool {
        let now = clock()
        return state.withLock { state in
            guard Self.live(key, database, &state, now) != nil else { return false }
            state.databases[database]?[key] = nil
            return true
        }
    }

    /// The names of the commands received, upper-cased, in the order they ran (never arguments,
    /// which can be a password).
    var commandLog: [String] { state.withLock { $0.log } }

    func resetCommandLog() { state.withLock { $0.log = [] } }

    /// Connections subscribed to `channel` now.
    func subscribers(of channel: String) -> Int {
        state.withLock { state in state.peers.values.filter { $0.channels.contains(channel) }.count }
    }

    var openConnections: Int { state.withLock { $0.peers.count } }
    var accepted: Int { state.withLock { $0.accepted } }

    /// Stops reading and answering, like a Redis that hangs (SIGSTOP): commands wait in the
    /// sockets and are answered after `resume`. Connections are still accepted, as the kernel would.
    func pause() { state.withLock { $0.paused = true } }

    func resume() { state.withLock { $0.paused = false } }

    /// Drops every open connection, like a restart that kept the data: clients reconnect and
    /// subscribers subscribe again.
    func disconnectAll() {
        state.withLock { state in
            for peer in state.peers.values { shutdown(peer.socket, Int32(SHUT_RDWR)) }
        }
    }

    func stop() {
        let wasRunning = state.withLock { state in
            defer { state.running = false }
            return state.running
        }
        guard wasRunning else { return }  // closing twice could close someone else's fd
        for _ in 0..<200 where threads.withLock({ $0 }) > 0 { usleep(5_000) }
        close(listenFD)
    }

    // MARK: threads

    private var isRunning: Bool { state.withLock { $0.running } }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        threads.withLock { $0 += 1 }
        let thread = Thread { [self] in
            body()
            threads.withLock { $0 -= 1 }
        }
        thread.start()
    }

    private func acceptLoop() {
        while isRunning {
            var entry = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) > 0 else { continue }
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { continue }
            var pipeFDs: [Int32] = [0, 0]
            guard pipe(&pipeFDs) == 0 else {
                close(fd)
                continue
            }
            for end in pipeFDs { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
            let id = state.withLock { state in
                defer { state.nextPeer += 1 }
                state.accepted += 1
                state.peers[state.nextPeer] = Peer(socket: fd, wake: pipeFDs[1])
                return state.nextPeer
            }
            let (woken, wake) = (pipeFDs[0], pipeFDs[1])
            spawn { [self] in serve(id, socket: fd, woken: woken, wake: wake) }
        }
    }

    private func serve(_ id: Int, socket fd: Int32, woken: Int32, wake: Int32) {
        defer {
            state.withLock { $0.peers[id] = nil }
            close(fd)
            close(woken)
            close(wake)
        }
        var session = Session(id: id, authenticated: password == nil)
        var parser = RESPParser()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        // After QUIT or bytes that are not a command: send what is queued, then hang up.
        var closing = false
        while true {
            let (running, paused, output) = state.withLock { state in
                let output = state.paused ? [] : state.peers[id]?.outbox ?? []
                if !output.isEmpty { state.peers[id]?.outbox = [] }
                return (state.running, state.paused, output)
            }
            guard running else { return }
            if paused {
                usleep(1_000)
                continue
            }
            if !output.isEmpty, !send(fd, output) { return }
            if closing { return }
            var entries = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: woken, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&entries, 2, 20) > 0 else { continue }
            if entries[1].revents != 0 { Self.drainPipe(woken) }
            guard entries[0].revents != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            buffer.withUnsafeBytes { parser.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            let (commands, malformed) = Self.commands(from: &parser)
            let now = clock()
            state.withLock { state in
                var reply: [UInt8] = []
                for command in commands where !closing {
                    closing = !execute(command, &session, &state, now: now, reply: &reply)
                }
                if malformed, !closing {
                    // Redis answers garbage once and hangs up: the stream cannot be read further.
                    RESPEncoder.append(.error("ERR Protocol error: invalid request"), to: &reply)
                    closing = true
                }
                state.peers[id]?.outbox.append(contentsOf: reply)
            }
            // Other nodes' locks are taken only with this one released: two nodes publishing at
            // once must not wait for each other.
            if let node, !session.published.isEmpty {
                for (channel, message) in session.published {
                    node.board.deliver(message, on: channel, from: node.index)
                }
            }
            session.published = []
        }
    }

    /// The complete commands fed so far (empty ones skipped, as Redis does), and whether what
    /// follows them is not a command (not an array of bulk strings, or not RESP).
    private static func commands(from parser: inout RESPParser) -> (commands: [[[UInt8]]], malformed: Bool) {
        var commands: [[[UInt8]]] = []
        while true {
            let next: RESPValue?
            do { next = try parser.next() } catch { return (commands, true) }
            guard let value = next else { return (commands, false) }
            guard case .array(let items?) = value else { return (commands, true) }
            var command: [[UInt8]] = []
            for item in items {
                guard case .bulkString(let bytes?) = item else { return (commands, true) }
                command.append(bytes)
            }
            if !command.isEmpty { commands.append(command) }
        }
    }

    private static func drainPipe(_ fd: Int32) {
        var bytes = [UInt8](repeating: 0, count: 64)
        while (bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// Blocks until everything is sent; false when the client is gone or the server stops.
    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&entry, 1, 20) > 0 else {
                if !isRunning { return false }
                continue
            }
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    // MARK: commands

    /// Runs one command under the state lock and appends its reply; false to hang up after it.
    private func execute(
        _ arguments: [[UInt8]], _ session: inout Session, _ state: inout State, now: Int64, reply: inout [UInt8]
    ) -> Bool {
        let name = String(decoding: arguments[0], as: UTF8.self).uppercased()
        state.log.append(name)
        func answer(_ value: RESPValue) { RESPEncoder.append(value, to: &reply) }
        func text(_ index: Int) -> String { String(decoding: arguments[index], as: UTF8.self) }

        guard let arity = Self.arity[name] else {
            let shown = arguments.dropFirst().prefix(16).map { "'\(String(decoding: $0.prefix(128), as: UTF8.self))' " }
            answer(.error("ERR unknown command '\(text(0).prefix(128))', with args beginning with: \(shown.joined())"))
            return true
        }
        guard arity >= 0 ? arguments.count == arity : arguments.count >= -arity else {
            answer(.error("ERR wrong number of arguments for '\(name.lowercased())' command"))
            return true
        }
        guard session.authenticated || name == "AUTH" || name == "QUIT" else {
            answer(.error("NOAUTH Authentication required."))
            return true
        }
        let subscribed = !(state.peers[session.id]?.channels.isEmpty ?? true)
        if subscribed, !["SUBSCRIBE", "UNSUBSCRIBE", "PING", "QUIT"].contains(name) {
            answer(
                .error(
                    "ERR Can't execute '\(name.lowercased())': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                        + "RESET are allowed in this context"))
            return true
        }
        let database = session.database
        let asking = session.asking
        if name != "ASKING" { session.asking = false }
        if let node,
            let refusal = node.refusal(
                for: arguments, name: name, asking: asking,
                exists: { key in
                    Self.live(key, database, &state, now) != nil
                })
        {
            answer(.error(refusal))
            return true
        }

        switch name {
        case "PING":
            guard arguments.count <= 2 else {
                answer(.error("ERR wrong number of arguments for 'ping' command"))
                return true
            }
            // Subscribed, Redis answers in the pub/sub form (RESP2 has no other way to say it).
            if subscribed {
                answer(
                    .array([.bulkString(Array("pong".utf8)), .bulkString(arguments.count == 2 ? arguments[1] : [])]))
            } else {
                answer(arguments.count == 2 ? .bulkString(arguments[1]) : .simpleString("PONG"))
            }
        case "QUIT":
            answer(.simpleString("OK"))
            return false
        case "AUTH":
            answer(authenticate(Array(arguments.dropFirst()), &session))
        case "SELECT":
            guard let index = Self.integer(arguments[1]) else {
                answer(Self.notAnInteger)
                return true
            }
            guard index >= 0, index < Int64(Self.databaseCount) else {
                answer(.error("ERR DB index is out of range"))
                return true
            }
            guard node == nil || index == 0 else {
                answer(.error("ERR SELECT is not allowed in cluster mode"))
                return true
            }
            session.database = Int(index)
            answer(.simpleString("OK"))
        case "GET":
            switch Self.live(text(1), database, &state, now)?.value {
            case nil: answer(.bulkString(nil))
            case .string(let bytes)?: answer(.bulkString(bytes))
            case .set?: answer(Self.wrongType)
            }
        case "SET":
            answer(Self.set(arguments, database, &state, now: now))
        case "DEL":
            var deleted: Int64 = 0
            for index in 1..<arguments.count where Self.live(text(index), database, &state, now) != nil {
                state.databases[database]?[text(index)] = nil
                deleted += 1
            }
            answer(.integer(deleted))
        case "EXISTS":
            let found = (1..<arguments.count).filter { Self.live(text($0), database, &state, now) != nil }.count
            answer(.integer(Int64(found)))
        case "SADD":
            var members: Set<[UInt8]> = []
            switch Self.live(text(1), database, &state, now)?.value {
            case nil: break
            case .set(let existing)?: members = existing
            case .string?:
                answer(Self.wrongType)
                return true
            }
            let before = members.count
            members.formUnion(arguments.dropFirst(2))
            // SADD keeps whatever expiry the set had.
            let expiresAt = state.databases[database]?[text(1)]?.expiresAt
            state.databases[database, default: [:]][text(1)] = Entry(value: .set(members), expiresAt: expiresAt)
            answer(.integer(Int64(members.count - before)))
        case "SMEMBERS":
            switch Self.live(text(1), database, &state, now)?.value {
            case nil: answer(.array([]))
            case .set(let members)?:
                answer(.array(members.sorted { $0.lexicographicallyPrecedes($1) }.map { .bulkString($0) }))
            case .string?: answer(Self.wrongType)
            }
        case "PEXPIRE":
            guard let milliseconds = Self.integer(arguments[2]) else {
                answer(Self.notAnInteger)
                return true
            }
            guard arguments.count == 3 else {
                answer(.error("ERR Unsupported option \(text(3))"))
                return true
            }
            guard Self.live(text(1), database, &state, now) != nil else {
                answer(.integer(0))
                return true
            }
            // A time already past deletes the key, as in Redis.
            if milliseconds <= 0 {
                state.databases[database]?[text(1)] = nil
            } else {
                state.databases[database]?[text(1)]?.expiresAt = now + milliseconds
            }
            answer(.integer(1))
        case "PTTL":
            answer(.integer(Int64(Self.ttl(Self.live(text(1), database, &state, now), now: now))))
        case "KEYS":
            Self.purge(database, &state, now)
            let pattern = arguments[1]
            let names = state.databases[database, default: [:]].keys.filter { Self.glob(pattern, Array($0.utf8)) }
            answer(.array(names.sorted().map { .bulkString(Array($0.utf8)) }))
        case "PUBLISH":
            let channel = text(1)
            var message: [UInt8] = []
            RESPEncoder.append(
                .array([.bulkString(Array("message".utf8)), .bulkString(arguments[1]), .bulkString(arguments[2])]),
                to: &message)
            // A cluster's node counts its own receivers; the bus carries the message to the others.
            if node != nil { session.published.append((channel, message)) }
            answer(.integer(Self.deliver(message, on: channel, &state)))
        case "CLUSTER":
            guard let node else {
                answer(.error("ERR This instance has cluster support disabled"))
                return true
            }
            answer(node.board.answer(cluster: arguments.dropFirst().map { String(decoding: $0, as: UTF8.self) }))
        case "ASKING":
            guard node != nil else {
                answer(.error("ERR This instance has cluster support disabled"))
                return true
            }
            session.asking = true
            answer(.simpleString("OK"))
        case "SUBSCRIBE":
            for index in 1..<arguments.count {
                state.peers[session.id]?.channels.insert(text(index))
                let count = Int64(state.peers[session.id]?.channels.count ?? 0)
                answer(.array([.bulkString(Array("subscribe".utf8)), .bulkString(arguments[index]), .integer(count)]))
            }
        case "UNSUBSCRIBE":
            let current = state.peers[session.id]?.channels.sorted() ?? []
            let channels = arguments.count > 1 ? (1..<arguments.count).map(text) : current
            if channels.isEmpty {
                answer(.array([.bulkString(Array("unsubscribe".utf8)), .bulkString(nil), .integer(0)]))
            }
            for channel in channels {
                state.peers[session.id]?.channels.remove(channel)
                let count = Int64(state.peers[session.id]?.channels.count ?? 0)
                answer(
                    .array([.bulkString(Array("unsubscribe".utf8)), .bulkString(Array(channel.utf8)), .integer(count)]))
            }
        default:
            preconditionFailure("\(name) has an arity but no implementation")
        }
        return true
    }

    /// Redis's arities: exactly n arguments counting the name, or at least -n.
    private static let arity: [String: Int] = [
        "PING": -1, "QUIT": -1, "AUTH": -2, "SELECT": 2, "GET": 2, "SET": -3, "DEL": -2, "EXISTS": -2, "SADD": -3,
        "SMEMBERS": 2, "PEXPIRE": -3, "PTTL": 2, "KEYS": 2, "PUBLISH": 3, "SUBSCRIBE": -2, "UNSUBSCRIBE": -1,
        "CLUSTER": -2, "ASKING": 1,
    ]

    /// Queues `message` for this node's subscribers of `channel`; how many there are.
    private static func deliver(_ message: [UInt8], on channel: String, _ state: inout State) -> Int64 {
        var receivers: Int64 = 0
        for (id, peer) in state.peers where peer.channels.contains(channel) {
            state.peers[id]?.outbox.append(contentsOf: message)
            var byte: UInt8 = 1
            _ = write(peer.wake, &byte, 1)  // a full pipe has woken its reader already
            receivers += 1
        }
        return receivers
    }

    /// A message another node of the cluster published (the cluster bus's work).
    func deliver(_ message: [UInt8], on channel: String) {
        state.withLock { state in _ = Self.deliver(message, on: channel, &state) }
    }

    /// The live keys of database 0 in `slot` (cluster mode has no other database).
    func keys(inSlot slot: Int) -> [String] {
        keys().filter { HashSlot.of($0) == slot }
    }

    /// Moves `keys` to `target` as MIGRATE does: each is in the target before it leaves here, with
    /// its value and expiry, so a reader finds it in one place or the other, never in neither.
    func move(_ keys: [String], to target: RedisMemoryServer) {
        let now = clock()
        let moving = state.withLock { state in
            keys.compactMap { key in Self.live(key, 0, &state, now).map { (key, $0) } }
        }
        target.state.withLock { state in
            for (key, entry) in moving { state.databases[0, default: [:]][key] = entry }
        }
        state.withLock { state in
            for (key, _) in moving { state.databases[0]?[key] = nil }
        }
    }

    private static let wrongType = RESPValue.error("WRONGTYPE Operation against a key holding the wrong kind of value")
    private static let notAnInteger = RESPValue.error("ERR value is not an integer or out of range")

    private func authenticate(_ arguments: [[UInt8]], _ session: inout Session) -> RESPValue {
        guard arguments.count <= 2 else { return .error("ERR syntax error") }
        let user = arguments.count == 2 ? String(decoding: arguments[0], as: UTF8.self) : "default"
        let given = String(decoding: arguments[arguments.count - 1], as: UTF8.self)
        guard let password else {
            // The default user has no password: AUTH with one alone is a configuration mistake.
            guard arguments.count == 2 else {
                return .error(
                    "ERR AUTH <password> called without any password configured for the default user. "
                        + "Are you sure your configuration is correct?")
            }
            guard user == "default" else { return .error(Self.wrongPass) }
            return .simpleString("OK")
        }
        guard user == "default", given == password else { return .error(Self.wrongPass) }
        session.authenticated = true
        return .simpleString("OK")
    }

    private static let wrongPass = "WRONGPASS invalid username-password pair or user is disabled."

    /// `SET key value [NX|XX] [PX ms|EX s|KEEPTTL]`.
    private static func set(_ arguments: [[UInt8]], _ database: Int, _ state: inout State, now: Int64) -> RESPValue {
        let key = String(decoding: arguments[1], as: UTF8.self)
        var onlyIfAbsent = false
        var onlyIfPresent = false
        var keepTTL = false
        var expiresAt: Int64? = nil
        var index = 3
        while index < arguments.count {
            let option = String(decoding: arguments[index], as: UTF8.self).uppercased()
            switch option {
            case "NX" where !onlyIfPresent: onlyIfAbsent = true
            case "XX" where !onlyIfAbsent: onlyIfPresent = true
            case "KEEPTTL" where expiresAt == nil: keepTTL = true
            case "PX" where expiresAt == nil && !keepTTL && index + 1 < arguments.count,
                "EX" where expiresAt == nil && !keepTTL && index + 1 < arguments.count:
                index += 1
                guard let amount = integer(arguments[index]) else { return notAnInteger }
                guard amount > 0 else { return .error("ERR invalid expire time in 'set' command") }
                expiresAt = now + (option == "PX" ? amount : amount * 1_000)
            default:
                return .error("ERR syntax error")
            }
            index += 1
        }
        let existing = live(key, database, &state, now)
        if onlyIfAbsent, existing != nil { return .bulkString(nil) }
        if onlyIfPresent, existing == nil { return .bulkString(nil) }
        if keepTTL { expiresAt = existing?.expiresAt }
        state.databases[database, default: [:]][key] = Entry(value: .string(arguments[2]), expiresAt: expiresAt)
        return .simpleString("OK")
    }

    // MARK: keyspace

    /// The key's entry unless it expired; an expired one is removed, as Redis does on access. A key
    /// lives through its last millisecond (Redis expires it once the clock is past `expiresAt`).
    private static func live(_ key: String, _ database: Int, _ state: inout State, _ now: Int64) -> Entry? {
        guard let entry = state.databases[database]?[key] else { return nil }
        if let expiresAt = entry.expiresAt, now > expiresAt {
            state.databases[database]?[key] = nil
            return nil
        }
        return entry
    }

    private static func purge(_ database: Int, _ state: inout State, _ now: Int64) {
        state.databases[database] = state.databases[database]?.filter { _, entry in
            entry.expiresAt.map { now <= $0 } ?? true
        }
    }

    private static func ttl(_ entry: Entry?, now: Int64) -> Int {
        guard let entry else { return -2 }
        guard let expiresAt = entry.expiresAt else { return -1 }
        return Int(max(0, expiresAt - now))
    }

    /// A decimal as Redis reads one: digits with an optional minus, nothing else.
    private static func integer(_ bytes: [UInt8]) -> Int64? {
        guard bytes.first != UInt8(ascii: "+") else { return nil }
        return Int64(String(decoding: bytes, as: UTF8.self))
    }

    /// KEYS patterns: `*`, `?`, `[...]` is not supported (matched literally), `\` escapes.
    private static func glob(_ pattern: [UInt8], _ name: [UInt8]) -> Bool {
        var p = 0
        var n = 0
        var star: (pattern: Int, name: Int)? = nil
        while n < name.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = (p, n)
                p += 1
                continue
            }
            if p < pattern.count {
                var literal = pattern[p]
                var width = 1
                if literal == UInt8(ascii: "\\"), p + 1 < pattern.count {
                    literal = pattern[p + 1]
                    width = 2
                }
                if (width == 1 && literal == UInt8(ascii: "?")) || literal == name[n] {
                    p += width
                    n += 1
                    continue
                }
            }
            guard let last = star else { return false }
            star = (last.pattern, last.name + 1)
            p = last.pattern + 1
            n = last.name + 1
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}
