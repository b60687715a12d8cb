import Foundation

// libFuzzer target: the Engagement view (key renames + path mapping) over arbitrary bytes.
// Valid JSON stays valid; applying the view twice changes nothing more.

let engagement = URLRewrite(fromOrigins: ["http://gw:8080"], toOrigin: "http://gw:8080", engagementView: true)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEngagement(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let once = StudioJSONRewriter.rewrite(input, engagement) else { return 0 }
    if isUTF8JSONObject(input) {
        precondition(
            (try? JSONSerialization.jsonObject(with: Data(once))) is [String: Any], "valid JSON in, invalid JSON out")
    }
    let twice = StudioJSONRewriter.rewrite(once, engagement)
    precondition(twice == once, "the Engagement view is not idempotent")
    return 0
}
