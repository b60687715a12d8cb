import CCurl
import Compression
import HTTP

/// One upstream call on an easy handle: the request as curl options, the answer as it arrives
/// (status line, the few headers the gateway keeps, body under a cap). Confined to the loop of
/// the `CurlEngine` that runs it; curl calls back into it through an unretained pointer while the
/// engine holds it in `transfers`.
final class CurlTransfer {
    let easy: UnsafeMutableRawPointer
    let isWrite: Bool
    private let maxBodyBytes: Int
    private var headerList: UnsafeMutablePointer<curl_slist>? = nil
    private var completion: ((Result<UpstreamResponse, UpstreamFailure>) -> Void)?

    private var status = 0
    private var headers = HTTPHeaders(capacity: 4)
    private var contentEncoding: String? = nil
    private var body: [UInt8] = []
    private var bodyTooLarge = false
    /// Kept fields whose value `UpstreamFieldRule` refused (counted in /metrics when the call ends).
    private(set) var droppedFields = 0
    /// Requests curl started on a connection for this call: a write may start only one.
    private var attempts = 0

    /// Response fields passed back to clients; everything else (framing, cookies, hop-by-hop) stays.
    static let returnedHeaders = ["Content-Type", "Twilio-Request-Id", "WWW-Authenticate"]

    init(
        easy: UnsafeMutableRawPointer, isWrite: Bool, maxBodyBytes: Int,
        completion: @escaping (Result<UpstreamResponse, UpstreamFailure>) -> Void
    ) {
        self.easy = easy
        self.isWrite = isWrite
        self.maxBodyBytes = maxBodyBytes
        self.completion = completion
    }

    deinit { curl_slist_free_all(headerList) }

    var isFinished: Bool { completion == nil }

    /// Sets every option of this call on a freshly reset handle. False if curl refused one.
    func configure(_ request: UpstreamRequest, url: String, options: UpstreamClient.Options, timeoutMilliseconds: Int)
        -> Bool
    {
        let me = Unmanaged.passUnretained(self).toOpaque()
        var ok = true
        func check(_ code: CURLcode) { if code != CURLE_OK { ok = false } }
        check(ccurl_easy_set_string(easy, CURLOPT_URL, url))
        check(ccurl_easy_set_pointer(easy, CURLOPT_PRIVATE, me))
        check(ccurl_easy_set_long(easy, CURLOPT_NOSIGNAL, 1))
        check(ccurl_easy_set_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        check(ccurl_easy_set_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        check(ccurl_easy_set_long(easy, CURLOPT_TIMEOUT_MS, max(1, timeoutMilliseconds)))
        check(
            ccurl_easy_set_long(
                easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, min(timeoutMilliseconds, options.connectTimeoutMilliseconds))))
        // HTTP/2 where TLS offers it (ALPN), HTTP/1.1 keep-alive otherwise; wait for a multiplexed
        // connection rather than opening another one.
        check(ccurl_easy_set_long(easy, CURLOPT_HTTP_VERSION, CCURL_HTTP_VERSION_2TLS))
        check(ccurl_easy_set_long(easy, CURLOPT_PIPEWAIT, 1))
        check(ccurl_easy_set_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        if let caFile = options.caFile { check(ccurl_easy_set_string(easy, CURLOPT_CAINFO, caFile)) }
        check(ccurl_easy_set_data_callback(easy, CURLOPT_HEADERFUNCTION, onHeaderLine))
        check(ccurl_easy_set_pointer(easy, CURLOPT_HEADERDATA, me))
        check(ccurl_easy_set_data_callback(easy, CURLOPT_WRITEFUNCTION, onBodyBytes))
        check(ccurl_easy_set_pointer(easy, CURLOPT_WRITEDATA, me))

        switch request.method {
        case "GET":
            break
        case "HEAD":
            check(ccurl_easy_set_long(easy, CURLOPT_NOBODY, 1))
        case "POST":
            check(ccurl_easy_set_long(easy, CURLOPT_POST, 1))
        default:
            check(ccurl_easy_set_string(easy, CURLOPT_CUSTOMREQUEST, request.method))
        }
        if request.method == "POST" || !request.body.isEmpty {
            check(ccurl_easy_set_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            request.body.withUnsafeBytes { bytes in
                // Copied by curl, so nothing here has to outlive this call.
                check(
                    ccurl_easy_set_pointer(
                        easy, CURLOPT_COPYPOSTFIELDS,
                        UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(me))))
            }
        }
        if isWrite {
            // curl re-sends a request on its own when a reused connection dies before answering.
            // For a write that could apply it twice: the second start is refused (CURLE_ABORTED_BY_CALLBACK).
            check(ccurl_easy_set_prereq_callback(easy, onRequestStart, me))
        }

        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in request.headers {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        // Only gzip (curl would offer br and zstd and inflate without a limit); no 100-continue wait.
        list = curl_slist_append(list, "Accept-Encoding: gzip")
        list = curl_slist_append(list, "Expect:")
        headerList = list
        check(ccurl_easy_set_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list)))
        return ok
    }

    // MARK: curl callbacks (on the loop thread, inside curl_multi_socket_action)

    /// One line of the answer's head. Runs for every header line of every call, so it works on
    /// the bytes and makes strings only of the few fields kept.
    fileprivate func headerLine(_ line: UnsafeRawBufferPointer) {
        var end = line.count
        while end > 0, line[end - 1] == UInt8(ascii: "\r") || line[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: line[0..<end])
        if line.starts(with: "HTTP/".utf8) {
            // A new answer (100 Continue, then the final one): start over.
            status = 0
            if let space = line.firstIndex(of: UInt8(ascii: " ")), space + 4 <= line.count {
                for digit in line[(space + 1)..<(space + 4)] where (0x30...0x39).contains(digit) {
                    status = status * 10 + Int(digit - 0x30)
                }
            }
            headers = HTTPHeaders(capacity: 4)
            contentEncoding = nil
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        var valueStart = colon + 1
        var valueEnd = line.count
        while valueStart < valueEnd, line[valueStart] == 0x20 || line[valueStart] == 0x09 { valueStart += 1 }
        while valueEnd > valueStart, line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09 { valueEnd -= 1 }
        let bytes = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
        let value = { String(decoding: bytes, as: UTF8.self) }
        if Self.nameMatches(name, "content-encoding") {
            contentEncoding = value().lowercased()
        } else if let kept = Self.returnedHeaders.first(where: { Self.nameMatches(name, $0) }) {
            // Checked on the bytes: decoding first would turn invalid UTF-8 into U+FFFD.
            guard UpstreamFieldRule.keeps(kept, value: bytes) else {
                droppedFields += 1
                return
            }
            headers.add(kept, value())
        }
    }

    /// ASCII case-insensitive comparison of a field name's bytes with `wanted`.
    private static func nameMatches(_ name: UnsafeRawBufferPointer, _ wanted: String) -> Bool {
        var wanted = wanted
        return wanted.withUTF8 { wanted in
            guard name.count == wanted.count else { return false }
            for index in 0..<name.count where name[index] | 0x20 != wanted[index] | 0x20 { return false }
            return true
        }
    }

    fileprivate func bodyBytes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= maxBodyBytes else {
            bodyTooLarge = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    fileprivate func requestStarts() -> Bool {
        attempts += 1
        return attempts == 1
    }

    // MARK: answering

    /// Answers the caller once (curl finished, failed, or the call was cancelled).
    func finish(_ code: CURLcode) {
        finish(result(code))
    }

    func finish(_ result: Result<UpstreamResponse, UpstreamFailure>) {
        guard let completion else { return }
        self.completion = nil
        body = []
        completion(result)
    }

    /// Curl's outcome, with a gzip body inflated under the cap.
    private func result(_ code: CURLcode) -> Result<UpstreamResponse, UpstreamFailure> {
        if code != CURLE_OK { return .failure(failure(code)) }
        guard status > 0 else { return .failure(.unreachable("the upstream sent no HTTP response")) }
        var answer = body
        if contentEncoding == "gzip" || contentEncoding == "x-gzip" {
            do {
                answer = try Zlib.decompress(body, format: .gzip, limit: maxBodyBytes)
            } catch let error as Zlib.Failure where error.isOverLimit {
                return .failure(.bodyTooLarge(limit: maxBodyBytes))
            } catch {
                return .failure(.invalidResponse)
            }
        } else if let encoding = contentEncoding, encoding != "identity" {
            return .failure(.invalidResponse)  // a coding we never asked for
        }
        return .success(UpstreamResponse(status: HTTPStatus(status), headers: headers, body: answer))
    }

    private func failure(_ code: CURLcode) -> UpstreamFailure {
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_WRITE_ERROR where bodyTooLarge:
            return .bodyTooLarge(limit: maxBodyBytes)
        case CURLE_ABORTED_BY_CALLBACK where attempts > 1, CURLE_SEND_FAIL_REWIND:
            return .unreachable(
                "the upstream connection failed after the write may have been sent; it was not sent again")
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .unreachable("cannot connect to the upstream")
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS:
            return .unreachable("TLS handshake with the upstream failed")
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return .unreachable("the upstream closed the connection before answering")
        default:
            return .unreachable("upstream request failed (\(String(cString: curl_easy_strerror(code))))")
        }
    }
}

private let onHeaderLine: ccurl_data_callback = { data, size, count, userp in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userp!).takeUnretainedValue()
    transfer.headerLine(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

private let onBodyBytes: ccurl_data_callback = { data, size, count, userp in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userp!).takeUnretainedValue()
    return transfer.bodyBytes(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
}

private let onRequestStart: ccurl_prereq_callback = { userp, _, _, _, _ in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userp!).takeUnretainedValue()
    return transfer.requestStarts() ? CCURL_PREREQFUNC_OK : CCURL_PREREQFUNC_ABORT
}
