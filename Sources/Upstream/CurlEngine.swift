import CCurl
import EventLoop
import Glibc

/// libcurl's multi-socket interface driven by one event loop (the pattern of curl's
/// `ephiperfifo.c`): curl says which sockets to watch and when to wake it, the loop watches them
/// with epoll and calls `curl_multi_socket_action`. One engine per loop, so a call's answer lands
/// on the loop that owns the client's connection: no thread hops, no locks. Its connection cache
/// (HTTP/1.1 keep-alive, HTTP/2 multiplexing) is shared by every call made on the loop.
final class CurlEngine: LoopLocal {
    let loop: EventLoop
    private let multi: UnsafeMutableRawPointer
    private let stats: UpstreamStats
    /// Calls in flight, keyed by their easy handle. Holding them here keeps them alive while curl
    /// calls back into them through unretained pointers.
    private var transfers: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    /// Sockets curl asked us to watch, with the events it wants.
    private var watched: [Int32: CurlSocketWatch] = [:]
    private var timer: LoopTimers.ID? = nil
    /// Finished easy handles, reset and kept for the next calls (curl recommends reuse).
    private var spareHandles: [UnsafeMutableRawPointer] = []
    private var stopped = false

    init(loop: EventLoop, maxConnectionsPerHost: Int, stats: UpstreamStats) {
        self.loop = loop
        self.stats = stats
        UpstreamClient.initializeCurlOnce
        multi = curl_multi_init()!
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_multi_set_callbacks(multi, onSocket, onTimer, me)
        _ = ccurl_multi_set_long(multi, CURLMOPT_PIPELINING, CCURL_PIPE_MULTIPLEX)
        _ = ccurl_multi_set_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        _ = ccurl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, maxConnectionsPerHost)
    }

    /// Starts a call; `completion` runs on this loop exactly once (answer, failure or cancel).
    func start(
        _ request: UpstreamRequest, url: String, options: UpstreamClient.Options, timeoutMilliseconds: Int,
        completion: @escaping (Result<UpstreamResponse, UpstreamFailure>) -> Void
    ) -> CurlTransfer? {
        guard !stopped, let easy = spareHandles.popLast() ?? curl_easy_init() else {
            completion(.failure(.unreachable("the upstream engine is stopped")))
            return nil
        }
        let transfer = CurlTransfer(
            easy: easy, isWrite: !request.isRead, maxBodyBytes: options.maxBodyBytes, completion: completion)
        guard transfer.configure(request, url: url, options: options, timeoutMilliseconds: timeoutMilliseconds) else {
            recycle(easy)
            transfer.finish(.failure(.unreachable("libcurl refused an option (is it built with HTTP/2 and TLS?)")))
            return nil
        }
        transfers[easy] = transfer
        guard curl_multi_add_handle(multi, easy) == CURLM_OK else {
            transfers[easy] = nil
            recycle(easy)
            transfer.finish(.failure(.unreachable("libcurl could not start the call")))
            return nil
        }
        return transfer
    }

    /// Stops a call in flight and answers it `.cancelled`.
    func cancel(_ transfer: CurlTransfer) {
        guard transfers.removeValue(forKey: transfer.easy) != nil else { return }
        curl_multi_remove_handle(multi, transfer.easy)
        recycle(transfer.easy)
        transfer.finish(.failure(.cancelled))
    }

    // MARK: driving curl

    fileprivate func watch(_ fd: Int32, what: Int32) {
        if what == CCURL_POLL_REMOVE {
            if watched.removeValue(forKey: fd) != nil { loop.deregister(fd) }
            return
        }
        // Only what curl asks for: epoll reports errors and hang-ups anyway, and a level-triggered
        // RDHUP curl did not ask about would fire again and again.
        var events: UInt32 = 0
        if what & CCURL_POLL_IN != 0 { events |= EpollEvents.readable }
        if what & CCURL_POLL_OUT != 0 { events |= EpollEvents.writable }
        if let existing = watched[fd] {
            if existing.events != events {
                existing.events = events
                loop.modify(fd, events: events)
            }
            return
        }
        let watch = CurlSocketWatch(fd: fd, events: events, engine: self)
        do {
            try loop.register(fd, events: events, handler: watch)
            watched[fd] = watch
        } catch {
            // curl will time the transfer out; nothing else can be done for this socket.
        }
    }

    fileprivate func armTimer(milliseconds: Int) {
        if let timer { loop.cancel(timer) }
        timer = nil
        guard milliseconds >= 0, !stopped else { return }
        timer = loop.schedule(after: UInt64(milliseconds) * 1_000_000) { [unowned self] in
            timer = nil
            act(on: CCURL_SOCKET_TIMEOUT, events: 0)
        }
    }

    fileprivate func act(on fd: Int32, events: Int32) {
        var running: Int32 = 0
        _ = curl_multi_socket_action(multi, curl_socket_t(fd), events, &running)
        collectFinished()
    }

    private func collectFinished() {
        var easy: UnsafeMutableRawPointer? = nil
        var code = CURLE_OK
        while ccurl_multi_next_done(multi, &easy, &code) == 1, let handle = easy {
            curl_multi_remove_handle(multi, handle)
            guard let transfer = transfers.removeValue(forKey: handle) else { continue }
            stats.record(
                newConnections: ccurl_easy_info_long(handle, CURLINFO_NUM_CONNECTS),
                tlsHandshake: ccurl_easy_info_offset(handle, CURLINFO_APPCONNECT_TIME_T) > 0,
                httpVersion: Self.majorVersion(ccurl_easy_info_long(handle, CURLINFO_HTTP_VERSION)))
            if transfer.droppedFields > 0 {
                stats.upstreamFieldsDropped.wrappingAdd(transfer.droppedFields, ordering: .relaxed)
            }
            if code == CURLE_ABORTED_BY_CALLBACK, transfer.isWrite {
                stats.writesNotResent.wrappingAdd(1, ordering: .relaxed)
            }
            recycle(handle)
            transfer.finish(code)  // may start other calls (retries, queued callers)
        }
    }

    private static func majorVersion(_ curlVersion: Int) -> Int {
        switch curlVersion {
        case CCURL_HTTP_VERSION_2_0: 2
        case CCURL_HTTP_VERSION_3: 3
        case 0: 0
        default: 1
        }
    }

    private func recycle(_ easy: UnsafeMutableRawPointer) {
        curl_easy_reset(easy)
        if spareHandles.count < 64 { spareHandles.append(easy) } else { curl_easy_cleanup(easy) }
    }

    // MARK: LoopLocal

    /// The loop is stopping: answer every call in flight and free curl's handles.
    func loopDidStop() {
        guard !stopped else { return }
        stopped = true
        for transfer in Array(transfers.values) { cancel(transfer) }
        for fd in watched.keys { loop.deregister(fd) }
        watched = [:]
        for easy in spareHandles { curl_easy_cleanup(easy) }
        spareHandles = []
        curl_multi_cleanup(multi)
    }
}

/// One socket curl asked the loop to watch; its events go back to curl.
final class CurlSocketWatch: EventHandler {
    let fd: Int32
    var events: UInt32
    private unowned let engine: CurlEngine

    init(fd: Int32, events: UInt32, engine: CurlEngine) {
        self.fd = fd
        self.events = events
        self.engine = engine
    }

    func handleEvents(_ events: UInt32) {
        var flags: Int32 = 0
        if events & EpollEvents.readable != 0 { flags |= CCURL_CSELECT_IN }
        if events & EpollEvents.writable != 0 { flags |= CCURL_CSELECT_OUT }
        if events & EpollEvents.hangup != 0 && flags == 0 { flags = CCURL_CSELECT_ERR }
        engine.act(on: fd, events: flags)
    }

    /// The engine is told separately and cleans up curl; the socket belongs to curl.
    func loopDidStop() {}
}

private let onSocket: ccurl_socket_callback = { _, fd, what, userp, _ in
    Unmanaged<CurlEngine>.fromOpaque(userp!).takeUnretainedValue().watch(Int32(fd), what: what)
    return 0
}

private let onTimer: ccurl_timer_callback = { _, milliseconds, userp in
    Unmanaged<CurlEngine>.fromOpaque(userp!).takeUnretainedValue().armTimer(milliseconds: milliseconds)
    return 0
}
