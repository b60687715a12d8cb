/// The kind of resource a credential's proof covers. Twilio's restricted API keys may read
/// executions but not contexts, so a proof for one kind says nothing about another; the gateway
/// numbers its route kinds (`StudioRoute.Resource.ordinal`) into these.
public struct ResourceFamily: Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// Families a proof can hold (one lane of the book's vector each); the gateway uses seven.
    public static let count = 8

    public let index: Int

    public init(_ index: Int) {
        precondition((0..<Self.count).contains(index), "a resource family is one of \(Self.count)")
        self.index = index
    }

    public init(integerLiteral index: Int) { self.init(index) }

    /// A family written as its number (the fleet's messages); nil for anything else.
    public init?(parsing text: Substring) {
        guard let index = Int(text), (0..<Self.count).contains(index) else { return nil }
        self.index = index
    }

    public static let all = (0..<count).map { ResourceFamily($0) }

    public var description: String { String(index) }
}
