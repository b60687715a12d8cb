import Locking
import Synchronization

/// Which account each credential has been proven to belong to, and for which kinds of resource
/// (docs/ARCHITECTURE.md, «Isolation rules»).
///
/// A credential is the SHA-256 of the whole `Authorization` value; the value itself is never kept.
/// It is verified for an account *and a `ResourceFamily`* (the kind of resource) when the upstream answered it with 2xx there, and stays verified for `ttl`.
/// Families matter because Twilio's restricted API keys may read executions but not contexts: a
/// proof for one kind of resource says nothing about another. An upstream 401 forgets the
/// credential at once; a 403 forgets it for that family. Time is injected (seconds on a monotonic
/// clock) so the rules are tested without waiting.
public final class CredentialBook: Sendable {
    private struct Proof {
        var account: String
        /// When each family (`ResourceFamily.index`) was last verified; -infinity:
        /// never. A fixed vector, so a hit's lookup costs no hashing and no allocation.
        var verifiedAt = SIMD8<Double>(repeating: -.infinity)

        var isEmpty: Bool { verifiedAt.max() == -.infinity }
    }

    private let proofs = Locked<[SHA256Digest: Proof]>([:])
    /// Bumped after every change that takes a proof away (a 401, a 403, another account, room
    /// made): a `Recollection` made before it no longer counts.
    private let revision = Atomic<UInt64>(0)
    public let ttl: Double
    private let capacity: Int

    public init(ttl: Double, capacity: Int = 100_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    public static func digest(authorization: String) -> SHA256Digest { SHA256.hash(authorization.utf8) }

    /// The account `credential` is currently verified for, for `family`, if any.
    public func verifiedAccount(_ credential: SHA256Digest, family: ResourceFamily, now: Double) -> String? {
        proofs.withLock { proofs in
            guard let proof = proofs[credential] else { return nil }
            guard now - proof.verifiedAt[family.index] < ttl else { return nil }  // never verified here, or expired
            return proof.account
        }
    }

    /// What a caller may keep of its proof, so its next request skips the table (a hashed lookup
    /// under a lock shared by every loop): valid while no proof has been taken away since.
    public struct Recollection: Sendable {
        fileprivate let account: String
        fileprivate let verifiedAt: SIMD8<Double>
        fileprivate let revision: UInt64
    }

    /// `verifiedAccount`, answered from `recollection` while it holds, refreshing it otherwise.
    public func verifiedAccount(
        _ credential: SHA256Digest, family: ResourceFamily, now: Double, recalling recollection: inout Recollection?
    ) -> String? {
        // Read before the table: a proof taken away after this read bumps past it.
        let current = revision.load(ordering: .acquiring)
        // (A proof re-verified since stays in the table only: then the table is asked.)
        if let known = recollection, known.revision == current, now - known.verifiedAt[family.index] < ttl {
            return known.account
        }
        let proof = proofs.withLock { $0[credential] }
        recollection = proof.map { Recollection(account: $0.account, verifiedAt: $0.verifiedAt, revision: current) }
        guard let proof, now - proof.verifiedAt[family.index] < ttl else { return nil }
        return proof.account
    }

    public func verify(_ credential: SHA256Digest, account: String, family: ResourceFamily, now: Double) {
        proofs.withLock { proofs in
            if proofs.count >= capacity, proofs[credential] == nil {
                // Full: drop expired proofs, then (if still full) an arbitrary one. A dropped proof only
                // costs one more upstream round trip for that caller.
                proofs = proofs.filter { now - $0.value.verifiedAt.max() < ttl }
                if proofs.count >= capacity, let victim = proofs.keys.first { proofs[victim] = nil }
                revision.wrappingAdd(1, ordering: .releasing)
            }
            if proofs[credential]?.account != account {
                if proofs[credential] != nil { revision.wrappingAdd(1, ordering: .releasing) }
                proofs[credential] = Proof(account: account)  // a different account: start over
            }
            proofs[credential]?.verifiedAt[family.index] = now
        }
    }

    /// The upstream refused the credential (401): no proof of it stands.
    public func forget(_ credential: SHA256Digest) {
        proofs.withLock { proofs in
            proofs[credential] = nil
            revision.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// The upstream refused the credential this kind of resource (403): that proof is gone.
    public func forget(_ credential: SHA256Digest, family: ResourceFamily) {
        proofs.withLock { proofs in
            proofs[credential]?.verifiedAt[family.index] = -.infinity
            if proofs[credential]?.isEmpty == true { proofs[credential] = nil }
            revision.wrappingAdd(1, ordering: .releasing)
        }
    }

    public var count: Int { proofs.withLock { $0.count } }
}
