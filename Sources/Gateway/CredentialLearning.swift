import Auth
import Cache
import Studio

/// What an upstream answer teaches, per the isolation rules (docs/ARCHITECTURE.md): a 401 forgets
/// the credential, a 403 its proof for this kind of resource; a 2xx proves it for the account the
/// body belongs to and reveals ended executions.
struct CredentialLearning: Sendable {
    let credentials: CredentialBook
    let statuses: ExecutionStatusBook

    /// What one answer taught: the account it is attributed to, and how the caller's proof changed
    /// (for the fleet to learn too).
    struct Lesson {
        enum ProofChange: Equatable {
            case verified(account: String)
            /// nil: every family (a 401).
            case revoked(ResourceFamily?)
        }

        var account: String?
        var proof: ProofChange?
        /// Executions whose contact this answer taught (for the fleet's erasure index).
        var contacts: [(execution: SID, contact: ExecutionContact)] = []
    }

    func learn(from answer: UpstreamAnswer, forward: Forward, now: Double) -> Lesson {
        if answer.status == 401 {
            credentials.forget(forward.credential)
            return Lesson(proof: .revoked(nil))
        }
        if answer.status == 403 {
            credentials.forget(forward.credential, family: forward.family)  // e.g. a restricted key on contexts
            return Lesson(proof: .revoked(forward.family))
        }
        guard answer.status.isSuccess else { return Lesson() }
        let facts = answer.facts ?? ExecutionFacts()
        let account: String?
        if forward.username.hasPrefix("AC") {
            // An account's own credential: the body, if it names an account, must agree.
            account = facts.account == nil || facts.account == forward.username ? forward.username : nil
        } else {
            account = facts.account  // API keys (SK…) belong to the account their answers name
        }
        guard let account, SID(account, prefix: "AC") != nil else { return Lesson() }
        credentials.verify(forward.credential, account: account, family: forward.family, now: now)
        var contacts: [(execution: SID, contact: ExecutionContact)] = []
        // Only an Execution body's top-level date is its execution's (a Step's is the step's).
        if forward.route.resource == .execution, let sid = forward.route.execution {
            if statuses.learn(sid, created: facts.created, contact: facts.contact) {
                contacts.append((sid, facts.contact))
            }
            if facts.status == "ended" { statuses.markEnded(sid) }
        }
        for item in facts.items {
            guard let sid = SID(item.sid, prefix: "FN") else { continue }
            if statuses.learn(sid, created: item.created, contact: item.contact) {
                contacts.append((sid, item.contact))
            }
            if item.status == "ended" { statuses.markEnded(sid) }
        }
        return Lesson(account: account, proof: .verified(account: account), contacts: contacts)
    }
}
