/// Which values of the fields passed on from the upstream (`Content-Type`, `Twilio-Request-Id`,
/// `WWW-Authenticate`) reach clients: visible ASCII and spaces only, so nothing is ever decoded
/// into replacement characters or sent with a control byte in it; a `Twilio-Request-Id` must be
/// an `RQ` SID (`RQ` + 32 lowercase or uppercase hex digits). A value that fails is dropped, not
/// repaired. Pure.
public enum UpstreamFieldRule {
    public static func keeps(_ name: String, value: UnsafeRawBufferPointer) -> Bool {
        if name == "Twilio-Request-Id" { return isRequestID(value) }
        // SP and HTAB inside a value are allowed by RFC 9110; everything else must be visible ASCII.
        return value.allSatisfy { byte in (0x21...0x7E).contains(byte) || byte == 0x20 || byte == 0x09 }
    }

    public static func keeps(_ name: String, value: String) -> Bool {
        var value = value
        return value.withUTF8 { keeps(name, value: UnsafeRawBufferPointer($0)) }
    }

    private static func isRequestID(_ value: UnsafeRawBufferPointer) -> Bool {
        guard value.count == 34, value[0] == UInt8(ascii: "R"), value[1] == UInt8(ascii: "Q") else { return false }
        return value.dropFirst(2).allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
        }
    }
}
