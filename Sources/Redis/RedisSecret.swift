/// A password that never prints: every description and mirror shows `***`, so a configuration
/// dumped into a log (`print`, `dump`, string interpolation) cannot leak it.
public struct RedisSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The password itself, for AUTH only.
    public let revealed: String

    public init(_ value: String) { revealed = value }

    public var description: String { "***" }
    public var debugDescription: String { "***" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
