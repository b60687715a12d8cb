/// A request's fields as `name:value\n` lines, in one tail-allocated block (the header holds the
/// byte count). Not a `[UInt8]`: a byte array is allocated through the runtime's generic metadata
/// lookup (~350 instructions, once per request); this block's class metadata is static.
/// Immutable once written, so copies of a request share it.
struct FieldLines: @unchecked Sendable {
    private final class Storage: ManagedBuffer<Int, UInt8> {}

    private let storage: Storage

    /// Room for `capacity` bytes, written by `write`, which returns how many it wrote.
    static func make(capacity: Int, _ write: (UnsafeMutableBufferPointer<UInt8>) -> Int) -> FieldLines {
        let storage = unsafeDowncast(Storage.create(minimumCapacity: max(1, capacity)) { _ in 0 }, to: Storage.self)
        storage.withUnsafeMutablePointers { count, bytes in
            count.pointee = write(UnsafeMutableBufferPointer(start: bytes, count: capacity))
        }
        return FieldLines(storage: storage)
    }

    /// No fields (one block shared by every request made without any).
    static let none = make(capacity: 0) { _ in 0 }

    static func make(_ bytes: [UInt8]) -> FieldLines {
        if bytes.isEmpty { return none }
        return make(capacity: bytes.count) { buffer in
            _ = buffer.initialize(from: bytes)
            return bytes.count
        }
    }

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try storage.withUnsafeMutablePointers { count, bytes in
            try body(UnsafeRawBufferPointer(start: bytes, count: count.pointee))
        }
    }
}
