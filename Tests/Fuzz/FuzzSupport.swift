import Foundation

/// JSONSerialization also reads UTF-16/32 and a BOM; the rewriter reads UTF-8 only (Studio's
/// encoding), so only UTF-8 text without NULs counts as "valid JSON" here.
func isUTF8JSONObject(_ bytes: [UInt8]) -> Bool {
    guard !bytes.contains(0), String(validating: bytes, as: UTF8.self) != nil,
        bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{")
    else { return false }
    return !hasTrailingComma(bytes) && (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any]
}

/// Linux JSONSerialization accepts `{"a": 1,}`; JSON (and the rewriter) do not. Found by the
/// json-rewriter target (crash-6e5218e6…, input `{"cofe":  "not ound",}`): the oracle was wrong.
func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
    var inString = false
    var escaped = false
    var afterComma = false
    for byte in bytes {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            continue
        }
        switch byte {
        case UInt8(ascii: "\""):
            inString = true
            afterComma = false
        case UInt8(ascii: ","): afterComma = true
        case UInt8(ascii: "}"), UInt8(ascii: "]"): if afterComma { return true }
        case 0x20, 0x09, 0x0A, 0x0D: break
        default: afterComma = false
        }
    }
    return false
}
