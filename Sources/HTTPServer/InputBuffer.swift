/// Bytes a connection has read and not yet parsed. Requests are parsed in place; the parsed
/// bytes at the front are dropped when everything is parsed, or once there are more than
/// `compactionThreshold` of them, so a long keep-alive connection does not keep what it read.
struct InputBuffer {
    private var bytes: [UInt8] = []
    private var parsed = 0
    let compactionThreshold: Int
    /// Capacity kept for the next request once everything is parsed.
    let keptCapacity: Int

    init(compactionThreshold: Int, keptCapacity: Int) {
        self.compactionThreshold = compactionThreshold
        self.keptCapacity = keptCapacity
    }

    var unparsedCount: Int { bytes.count - parsed }

    mutating func append(_ read: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: read.assumingMemoryBound(to: UInt8.self))
    }

    /// Runs `parse` over the unparsed bytes; it returns how many it consumed.
    mutating func parse<Event>(_ parse: (UnsafeRawBufferPointer) -> (consumed: Int, event: Event)) -> Event {
        let (consumed, event) = bytes.withUnsafeBytes { parse(UnsafeRawBufferPointer(rebasing: $0[parsed...])) }
        parsed += consumed
        return event
    }

    mutating func compact() {
        if parsed == bytes.count {
            bytes.removeAll(keepingCapacity: bytes.capacity <= keptCapacity)
            parsed = 0
        } else if parsed > compactionThreshold {
            bytes.removeFirst(parsed)
            parsed = 0
        }
    }

    mutating func drop() {
        bytes = []
        parsed = 0
    }
}
