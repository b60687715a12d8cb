import Locking

/// Which account each credential has been proven to belong to, and for which kinds of resource
/// (docs/ARCHITECTURE.md, «Isolation rules»).
///
/// A credential is the SHA-256 of the whole `Authorization` value; the value itself is never kept.
/// It is verified for an account *and a resource family* (a small integer the gateway assigns per
/// route kind) when the upstream answered it with 2xx there, and stays verified for `ttl`.
/// Families matter because Twilio's restricted API keys may read executions but not contexts: a
/// proof for one kind of resource says nothing about another. An upstream 401 forgets the
/// credential at once; a 403 forgets it for that family. Time is injected (seconds on a monotonic
/// clock) so the rules are tested without waiting.
public final class CredentialBook: Sendable {
    private struct Proof {
        var account: String
        /// When each family (0..<8; the gateway has seven route kinds) was last verified; -infinity:
        /// never. A fixed vector, so a hit's lookup costs no hashing and no allocation.
        var verifiedAt = SIMD8<Double>(repeating: -.infinity)

        var isEmpty: Bool { verifiedAt.max() == -.infinity }
    }

    private let proofs = Locked<[SHA256Digest: Proof]>([:])
    public let ttl: Double
    private let capacity: Int

    public init(ttl: Double, capacity: Int = 100_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    public static func digest(authorization: String) -> SHA256Digest { SHA256.hash(authorization.utf8) }

    /// The account `credential` is currently verified for, for `family`, if any.
    public func verifiedAccount(_ credential: SHA256Digest, family: Int, now: Double) -> String? {
        proofs.withLock { proofs in
            guard let proof = proofs[credential] else { return nil }
            guard now - proof.verifiedAt[family] < ttl else { return nil }  // never verified here, or expired
            return proof.account
        }
    }

    public func verify(_ credential: SHA256Digest, account: String, family: Int, now: Double) {
        proofs.withLock { proofs in
            if proofs.count >= capacity, proofs[credential] == nil {
                // Full: drop expired proofs, then (if still full) an arbitrary one. A dropped proof only
                // costs one more upstream round trip for that caller.
                proofs = proofs.filter { now - $0.value.verifiedAt.max() < ttl }
                if proofs.count >= capacity, let victim = proofs.keys.first { proofs[victim] = nil }
            }
            if proofs[credential]?.account != account {
                proofs[credential] = Proof(account: account)  // a different account: start over
            }
            proofs[credential]?.verifiedAt[family] = now
        }
    }

    /// The upstream refused the credential (401): no proof of it stands.
    public func forget(_ credential: SHA256Digest) {
        _ = proofs.withLock { $0.removeValue(forKey: credential) }
    }

    /// The upstream refused the credential this kind of resource (403): that proof is gone.
    public func forget(_ credential: SHA256Digest, family: Int) {
        proofs.withLock { proofs in
            proofs[credential]?.verifiedAt[family] = -.infinity
            if proofs[credential]?.isEmpty == true { proofs[credential] = nil }
        }
    }

    public var count: Int { proofs.withLock { $0.count } }
}
