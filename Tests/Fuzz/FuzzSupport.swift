import Foundation

/// JSONSerialization also reads UTF-16/32 and a BOM; the rewriter reads UTF-8 only (Studio's
/// encoding), so only UTF-8 text without NULs counts as "valid JSON" here.
func isUTF8JSONObject(_ bytes: [UInt8]) -> Bool {
    guard !bytes.contains(0), String(validating: bytes, as: UTF8.self) != nil,
          bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{")
    else { return false }
    return (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any]
}
