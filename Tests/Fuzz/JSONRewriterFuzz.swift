import Foundation

// libFuzzer target: the byte-preserving URL rewriter. Valid JSON in must give valid JSON out,
// and with nothing of ours in it, the very same bytes.

let rewrite = URLRewrite(fromOrigins: ["https://studio.twilio.com", "http://127.0.0.1:9"], toOrigin: "http://gw:8080")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONRewriter(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let output = StudioJSONRewriter.rewrite(input, rewrite)
    let valid = isUTF8JSONObject(input)
    if valid {
        precondition(output != nil, "a valid object was refused")
        precondition((try? JSONSerialization.jsonObject(with: Data(output!))) != nil, "valid JSON in, invalid JSON out")
    }
    // Schemes match case-insensitively, so "HttpS://studio..." is ours too (crash-cbd729b5…).
    if let output, !input.contains(where: { $0 | 0x20 == UInt8(ascii: "h") }) {
        precondition(output == input, "changed bytes without any URL to rewrite")
    }
    return 0
}
