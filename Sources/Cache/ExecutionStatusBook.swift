import Locking
import Studio

/// What the gateway has learnt of each execution from the answers about it: whether it has ended
/// (final in Studio), when it was created (its data's retention bound) and, as two 32-bit tags,
/// whose it is (its contact's SID and channel address, so an erasure request finds its
/// executions; never the address itself). SIDs are globally unique, so the book needs no
/// account: it only decides how long an account's own entries live and what a purge names.
///
/// Bounded: a 24-byte SID and a 16-byte record per execution in one dictionary (107 B of RSS per
/// execution with the table's slack, `ExecutionStatusBookTests`; the contact tags are 8 of the
/// 40 bytes a slot holds); full, it starts over. Forgetting is safe
/// for what is stored already (an entry carries its own bound); a child stored after that is
/// bounded by its own store time, as for an execution never seen.
public final class ExecutionStatusBook: Sendable {
    /// One execution: creation time in seconds since 1970 (0 = unknown), the contact's tags (0 =
    /// none) and whether it ended. 13 bytes, a 16-byte stride.
    struct Record {
        var created: UInt32 = 0
        var contactTag: UInt32 = 0
        var addressTag: UInt32 = 0
        var ended = false
    }

    private let records = Locked<[SID: Record]>([:])
    private let capacity: Int
    /// Per-process seed of the contact tags: they name no one outside this process.
    private let tagSeed: UInt64

    public init(capacity: Int = 1_000_000) {
        self.capacity = capacity
        var random = SystemRandomNumberGenerator()
        tagSeed = random.next()
    }

    public func isEnded(_ execution: SID) -> Bool {
        records.withLock { $0[execution]?.ended ?? false }
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
        }
    }

    /// Seconds since 1970 when `execution` was created, if an answer said.
    public func created(_ execution: SID) -> Double? {
        records.withLock { $0[execution].flatMap { $0.created == 0 ? nil : Double($0.created) } }
    }

    /// The executions of this contact (by SID or by channel address) the book knows. A tag is 32
    /// bits: another contact's execution may come along (it is only fetched again), never one missed.
    public func executions(of contact: ExecutionContact) -> [SID] {
        let contactTag = contact.sid.map(tag)
        let addressTag = contact.address.map(tag)
        return records.withLock { records in
            records.compactMap { sid, record in
                (contactTag != nil && record.contactTag == contactTag)
                    || (addressTag != nil && record.addressTag == addressTag) ? sid : nil
            }
        }
    }

    public func forget(_ execution: SID) {
        _ = records.withLock { $0.removeValue(forKey: execution) }
    }

    public var count: Int { records.withLock { $0.count } }

    @discardableResult
    private func update<Result>(_ execution: SID, _ change: (inout Record) -> Result) -> Result {
        records.withLock { records in
            if records.count >= capacity, records[execution] == nil { records.removeAll(keepingCapacity: true) }
            return change(&records[execution, default: Record()])
        }
    }

    /// 32 bits of a seeded hash of `text`; never 0 (0 is "none").
    private func tag(_ text: String) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(tagSeed)
        hasher.combine(text)
        return max(1, UInt32(truncatingIfNeeded: hasher.finalize()))
    }
}
