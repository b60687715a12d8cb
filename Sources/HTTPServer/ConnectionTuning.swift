import EventLoop
import HTTP

/// The numbers a connection works with, taken from `HTTPServerConfiguration` once per loop, with
/// the timeouts already in nanoseconds (they are added to the clock on every write).
struct ConnectionTuning: Sendable {
    let limits: HTTPLimits
    let headerTimeout: UInt64
    let idleTimeout: UInt64
    let lingerTimeout: UInt64
    let maxUnsentOutput: Int
    let maxBufferedWhileBusy: Int
    let outputCompactionThreshold: Int
    let outputKeptCapacity: Int
    let inputCompactionThreshold: Int
    let inputKeptCapacity: Int

    init(_ configuration: HTTPServerConfiguration) {
        limits = configuration.limits
        headerTimeout = MonotonicClock.nanoseconds(configuration.headerTimeout)
        idleTimeout = MonotonicClock.nanoseconds(configuration.idleTimeout)
        lingerTimeout = MonotonicClock.nanoseconds(configuration.lingerTimeout)
        maxUnsentOutput = configuration.maxUnsentOutput
        maxBufferedWhileBusy = configuration.maxBufferedWhileBusy
        outputCompactionThreshold = configuration.outputCompactionThreshold
        outputKeptCapacity = configuration.outputKeptCapacity
        inputCompactionThreshold = configuration.inputCompactionThreshold
        inputKeptCapacity = configuration.inputKeptCapacity
    }
}
