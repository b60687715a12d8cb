// libFuzzer target: request-target checks and the router, the byte-level code every request runs.
// Built with Sources/Studio by run.sh. Each accepted target is checked against a plain restatement
// of the isolation rules over String APIs; a disagreement or a crash is a failure.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestTarget(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let target = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let parsed = RequestTarget.parse(target, ownAuthorities: ["127.0.0.1:8080"])
    if target.hasPrefix("/") {
        let accepted: Bool
        if case .success = parsed { accepted = true } else { accepted = false }
        precondition(accepted == referenceAccepts(target), "target checks disagree with the rules")
    }
    guard case .success(let checked) = parsed else { return 0 }
    precondition(checked.path.hasPrefix("/"))
    if case .route(let route) = StudioRouter.match(path: checked.path) {
        precondition(route.requestPath == checked.path)
        for (sid, prefix) in [(route.flow, "FW"), (route.execution, "FN"), (route.step, "FT")] {
            guard let sid else { continue }
            precondition(
                sid.value.utf8.count == 34 && sid.value.hasPrefix(prefix)
                    && sid.value.dropFirst(2).allSatisfy { "0123456789abcdef".contains($0) })
            precondition(checked.path.contains("/" + sid.value))
        }
        precondition(route.upstreamPath.hasPrefix("/" + route.version.rawValue + "/Flows"))
    }
    // The byte-level SID check agrees with the String one on every input.
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let byBytes = bytes.withUnsafeMutableBufferPointer { SID(bytes: UnsafeBufferPointer($0), prefix: "FN") != nil }
    precondition(
        byBytes == (SID(String(decoding: bytes, as: UTF8.self), prefix: "FN") != nil)
            || String(validating: bytes, as: UTF8.self) == nil)
    return 0
}

/// Origin-form only: visible ASCII without `\\` or `#`; no `.`/`..` segment and no %2F, %5C,
/// %00 or %2E in the path; visible ASCII without `#` in the query.
private func referenceAccepts(_ target: String) -> Bool {
    let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    let path = String(parts[0])
    let query = parts.count > 1 ? String(parts[1]) : ""
    let visible = { (text: String) in text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F } }
    guard visible(path), visible(query), !path.contains("\\"), !path.contains("#"), !query.contains("#") else {
        return false
    }
    let lower = path.lowercased()
    guard !["%2f", "%5c", "%00", "%2e"].contains(where: { lower.contains($0) }) else { return false }
    return !path.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == "." || $0 == ".." }
}
