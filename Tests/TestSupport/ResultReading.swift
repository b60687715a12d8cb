import Upstream

/// Reading a result without a switch, for assertions.
extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

extension Result where Failure == UpstreamFailure {
    var failure: UpstreamFailure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
