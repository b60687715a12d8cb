import Locking

/// Which account each credential has been proven to belong to (DESIGN §4).
///
/// A credential is the SHA-256 of the whole `Authorization` value; the value itself is never kept.
/// It is verified for an account when the upstream answered it with 2xx for that account, and
/// stays verified for `ttl`; an upstream 401/403 forgets it at once. Time is injected (seconds on
/// a monotonic clock) so the rules are tested without waiting.
public final class CredentialBook: Sendable {
    private struct Proof {
        var account: String
        var verifiedAt: Double
    }

    private let proofs = Locked<[SHA256Digest: Proof]>([:])
    private let ttl: Double
    private let capacity: Int

    public init(ttl: Double, capacity: Int = 100_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    public static func digest(authorization: String) -> SHA256Digest { SHA256.hash(authorization.utf8) }

    /// The account `credential` is currently verified for, if any.
    public func verifiedAccount(_ credential: SHA256Digest, now: Double) -> String? {
        proofs.withLock { proofs in
            guard let proof = proofs[credential] else { return nil }
            guard now - proof.verifiedAt < ttl else {
                proofs[credential] = nil
                return nil
            }
            return proof.account
        }
    }

    public func verify(_ credential: SHA256Digest, account: String, now: Double) {
        proofs.withLock { proofs in
            if proofs.count >= capacity, proofs[credential] == nil {
                // Full: drop expired proofs, then (if still full) an arbitrary one. A dropped proof only
                // costs one more upstream round trip for that caller.
                proofs = proofs.filter { now - $0.value.verifiedAt < ttl }
                if proofs.count >= capacity, let victim = proofs.keys.first { proofs[victim] = nil }
            }
            proofs[credential] = Proof(account: account, verifiedAt: now)
        }
    }

    public func forget(_ credential: SHA256Digest) {
        _ = proofs.withLock { $0.removeValue(forKey: credential) }
    }

    public var count: Int { proofs.withLock { $0.count } }
}
