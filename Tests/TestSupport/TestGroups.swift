import Cache

/// Short test names for cache groups: `"FN1"` is the execution `FN000…001`, `"FW7/lists"` the
/// list pages of flow `FW000…007`.
func testGroup(_ name: String) -> CacheGroup {
    let lists = name.hasSuffix("/lists")
    let sid = lists ? String(name.dropLast(6)) : name
    let digits = sid.dropFirst(2)
    let padded = String(sid.prefix(2)) + String(repeating: "0", count: max(0, 32 - digits.count)) + digits
    return CacheGroup(lists ? padded + "/lists" : padded)!
}
