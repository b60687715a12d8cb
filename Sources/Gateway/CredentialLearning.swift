import Auth
import Cache
import EventLoop
import Studio

/// What an upstream answer teaches, per the isolation rules (docs/ARCHITECTURE.md): a 401 forgets
/// the credential, a 403 its proof for this kind of resource; a 2xx proves it for the account the
/// body belongs to and reveals ended executions.
struct CredentialLearning: Sendable {
    let credentials: CredentialBook
    let statuses: ExecutionStatusBook
    /// The fleet's shared proofs, when `--redis` is set: what is learnt here is learnt everywhere.
    let secondLevel: SecondLevel?

    /// The account `answer` is attributed to, or nil when it cannot be attributed to one.
    func learn(from answer: UpstreamAnswer, forward: Forward, now: Double, on loop: EventLoop) -> String? {
        if answer.status == 401 {
            credentials.forget(forward.credential)
            secondLevel?.revokeProof(forward.credential, family: nil, on: loop)
            return nil
        }
        if answer.status == 403 {
            credentials.forget(forward.credential, family: forward.family)  // e.g. a restricted key on contexts
            secondLevel?.revokeProof(forward.credential, family: forward.family, on: loop)
            return nil
        }
        guard answer.status.isSuccess else { return nil }
        let facts = answer.facts ?? ExecutionFacts()
        let account: String?
        if forward.username.hasPrefix("AC") {
            // An account's own credential: the body, if it names an account, must agree.
            account = facts.account == nil || facts.account == forward.username ? forward.username : nil
        } else {
            account = facts.account  // API keys (SK…) belong to the account their answers name
        }
        guard let account, SID(account, prefix: "AC") != nil else { return nil }
        credentials.verify(forward.credential, account: account, family: forward.family, now: now)
        secondLevel?.shareProof(
            forward.credential, account: account, family: forward.family, ttl: credentials.ttl, on: loop)
        if forward.route.resource == .execution, facts.status == "ended", let sid = forward.route.execution {
            statuses.markEnded(sid)
        }
        for item in facts.items where item.status == "ended" {
            if let sid = SID(item.sid, prefix: "FN") { statuses.markEnded(sid) }
        }
        return account
    }
}
