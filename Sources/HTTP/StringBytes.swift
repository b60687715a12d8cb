extension String {
    /// The UTF-8 bytes in place, without the copy `withUTF8` makes of a `var` (a retain and a
    /// release, and a uniqueness check, per call on the hit path). Bridged or foreign strings,
    /// which this server never makes, are copied.
    @inlinable public func withUTF8Bytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows
        -> Result
    {
        if let result = try utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = self
        return try copy.withUTF8(body)
    }
}
