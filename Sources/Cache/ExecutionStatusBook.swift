import Locking
import Studio

/// What the gateway has learnt of each execution from the answers about it: whether it has ended
/// (final in Studio), when it was created (its data's retention bound) and, as two 32-bit tags,
/// whose it is (its contact's SID and channel address, so an erasure request finds its
/// executions; never the address itself). SIDs are globally unique, so the book needs no
/// account: it only decides how long an account's own entries live and what a purge names.
///
/// Compact: one 28-byte record per execution (the SID's 16 bytes, creation time in 4, the
/// two contact tags and the ended flag in 8) in a dense array, found through a `SlotIndex` (4 bytes
/// a place, at most 3/4 full) by a seeded hash of the SID. Measured with 200k executions: 47-52 B
/// of RSS per known execution (109 B with a `[SID: Record]` dictionary), the erasure index's
/// share (the tags) 8 of the 28 record bytes, ~14 B
/// (`ExecutionStatusBookTests`, docs/BENCHMARKS.md). Only executions (`FN…`) are kept: the prefix
/// is implied; another SID is never known (not ended, no creation time).
///
/// Bounded: full, it starts over. Forgetting is safe for what is stored already (an entry carries
/// its own bound); a child stored after that is bounded by its own store time, as for an
/// execution never seen.
public final class ExecutionStatusBook: Sendable {
    /// One execution: its SID's digit bytes, creation time (seconds since 1970, 0 = unknown),
    /// the contact's tags (31 bits each, 0 = none), the ended flag in the address tag's top bit.
    /// Seven 32-bit words: a 28-byte stride.
    struct Record {
        var key0: UInt32, key1: UInt32, key2: UInt32, key3: UInt32
        var created: UInt32 = 0
        var contactTag: UInt32 = 0
        var addressTagAndEnded: UInt32 = 0

        init(_ high: UInt64, _ low: UInt64) {
            key0 = UInt32(truncatingIfNeeded: high)
            key1 = UInt32(truncatingIfNeeded: high >> 32)
            key2 = UInt32(truncatingIfNeeded: low)
            key3 = UInt32(truncatingIfNeeded: low >> 32)
        }

        var high: UInt64 { UInt64(key0) | UInt64(key1) << 32 }
        var low: UInt64 { UInt64(key2) | UInt64(key3) << 32 }
        var addressTag: UInt32 {
            get { addressTagAndEnded & ~Record.endedBit }
            set { addressTagAndEnded = addressTagAndEnded & Record.endedBit | newValue }
        }
        var ended: Bool {
            get { addressTagAndEnded & Record.endedBit != 0 }
            set { addressTagAndEnded = newValue ? addressTagAndEnded | Record.endedBit : addressTag }
        }
        static let endedBit: UInt32 = 1 << 31
    }

    struct Table {
        var index = SlotIndex()
        var records: [Record] = []
        let seed: (UInt64, UInt64)

        func hash(_ high: UInt64, _ low: UInt64) -> UInt64 {
            ExecutionStatusBook.mix(ExecutionStatusBook.mix(high ^ seed.0) ^ low ^ seed.1)
        }

        func find(_ high: UInt64, _ low: UInt64) -> (place: Int, slot: Int)? {
            let hash = hash(high, low)
            return records.withUnsafeBufferPointer { records in
                index.find(hash: hash) { records[$0].high == high && records[$0].low == low }
            }
        }

        mutating func slot(_ high: UInt64, _ low: UInt64) -> Int {
            if let found = find(high, low) { return found.slot }
            records.append(Record(high, low))
            let slot = records.count - 1
            let (records, seed) = (self.records, self.seed)
            index.insert(slot, hash: hash(high, low)) { Table.hash(records[$0], seed) }
            return slot
        }

        mutating func remove(_ high: UInt64, _ low: UInt64) {
            guard let (place, slot) = find(high, low) else { return }
            do {
                let (records, seed) = (self.records, self.seed)
                index.remove(at: place) { Table.hash(records[$0], seed) }
            }
            let last = records.count - 1
            if slot != last {
                // The last record moves into the hole: its place points at its new slot.
                let moved = records[last]
                if let (movedPlace, _) = index.find(hash: Table.hash(moved, seed), matches: { $0 == last }) {
                    index.update(at: movedPlace, to: slot)
                }
                records[slot] = moved
            }
            records.removeLast()
        }

        mutating func removeAll() {
            records.removeAll(keepingCapacity: true)
            index.removeAll()
        }

        static func hash(_ record: Record, _ seed: (UInt64, UInt64)) -> UInt64 {
            ExecutionStatusBook.mix(ExecutionStatusBook.mix(record.high ^ seed.0) ^ record.low ^ seed.1)
        }
    }

    private let table: Locked<Table>
    private let capacity: Int
    /// Per-process seed of the contact tags: they name no one outside this process.
    private let tagSeed: UInt64

    public init(capacity: Int = 1_000_000) {
        self.capacity = capacity
        var random = SystemRandomNumberGenerator()
        tagSeed = random.next()
        table = Locked(Table(seed: (random.next(), random.next())))
    }

    public func isEnded(_ execution: SID) -> Bool {
        guard execution.isExecution else { return false }
        let (high, low) = execution.digitWords
        return table.withLock { table in table.find(high, low).map { table.records[$0.slot].ended } ?? false }
    }

    public func markEnded(_ execution: SID) { update(execution) { $0.ended = true } }

    /// What an answer about `execution` said of its creation and its contact; true when the
    /// contact was new to the book (the fleet's index is written then, not on every answer).
    @discardableResult
    public func learn(_ execution: SID, created: Int64?, contact: ExecutionContact) -> Bool {
        let createdSeconds = created.map { UInt32(clamping: max(1, $0)) }
        let contactTag = contact.sid.map(tag)
        let addressTag = contact.address.map(tag)
        guard createdSeconds != nil || contactTag != nil || addressTag != nil else { return false }
        return update(execution) { record in
            let isNew =
                (contactTag != nil && record.contactTag != contactTag)
                || (addressTag != nil && record.addressTag != addressTag)
            // An execution is created once: the earliest time heard is kept (a later one is never
            // trusted to lengthen its data's life).
            if let createdSeconds, record.created == 0 || createdSeconds < record.created {
                record.created = createdSeconds
            }
            if let contactTag { record.contactTag = contactTag }
            if let addressTag { record.addressTag = addressTag }
            return isNew
        } ?? false
    }

    /// Seconds since 1970 when `execution` was created, if an answer said.
    public func created(_ execution: SID) -> Double? {
        guard execution.isExecution else { return nil }
        let (high, low) = execution.digitWords
        let created = table.withLock { table in table.find(high, low).map { table.records[$0.slot].created } ?? 0 }
        return created == 0 ? nil : Double(created)
    }

    /// The executions of this contact (by SID or by channel address) the book knows. A tag is 31
    /// bits: another contact's execution may come along (it is only fetched again), never one missed.
    public func executions(of contact: ExecutionContact) -> [SID] {
        let contactTag = contact.sid.map(tag)
        let addressTag = contact.address.map(tag)
        return table.withLock { table in
            table.records.compactMap { record in
                (contactTag != nil && record.contactTag == contactTag)
                    || (addressTag != nil && record.addressTag == addressTag)
                    ? SID(executionWords: record.high, record.low) : nil
            }
        }
    }

    public func forget(_ execution: SID) {
        guard execution.isExecution else { return }
        let (high, low) = execution.digitWords
        table.withLock { $0.remove(high, low) }
    }

    public var count: Int { table.withLock { $0.records.count } }

    @discardableResult
    private func update<Result>(_ execution: SID, _ change: (inout Record) -> Result) -> Result? {
        guard execution.isExecution else { return nil }
        let (high, low) = execution.digitWords
        return table.withLock { table in
            if table.records.count >= capacity, table.find(high, low) == nil { table.removeAll() }
            let slot = table.slot(high, low)
            return change(&table.records[slot])
        }
    }

    /// murmur3's 64-bit finaliser: every output bit depends on every input bit.
    @inline(__always) static func mix(_ value: UInt64) -> UInt64 {
        var mixed = value ^ value >> 33
        mixed &*= 0xFF51_AFD7_ED55_8CCD
        mixed ^= mixed >> 33
        mixed &*= 0xC4CE_B9FE_1A85_EC53
        return mixed ^ mixed >> 33
    }

    /// 31 bits of a seeded hash of `text`; never 0 (0 is "none").
    private func tag(_ text: String) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(tagSeed)
        hasher.combine(text)
        return max(1, UInt32(truncatingIfNeeded: hasher.finalize()) & ~Record.endedBit)
    }
}
