import Glibc
import Synchronization

/// A value that threads share, behind a `Synchronization.Mutex` that ThreadSanitizer can see.
///
/// On Linux TSan cannot see the Mutex's own locking (it happens in the uninstrumented standard
/// library; `Tests/Sanitizers/tsan-mutex-repro.swift`), so every access under it would be reported
/// as a race and real ones would drown. When the TSan runtime is loaded, each critical section
/// tells it so (`__tsan_acquire`/`__tsan_release` on this object); otherwise that costs one test of
/// a nil function pointer.
public final class Locked<Value>: Sendable {
    // Inlinable so each use is specialized for its value type (this is on every request's path).
    @usableFromInline let mutex: Mutex<Value>

    @inlinable public init(_ initial: sending Value) { mutex = Mutex(initial) }

    @inlinable public func withLock<Result, Failure: Error>(
        _ body: (inout sending Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        try mutex.withLock { (value: inout sending Value) throws(Failure) -> sending Result in
            guard let hooks = ThreadSanitizer.hooks else { return try body(&value) }
            let address = Unmanaged.passUnretained(self).toOpaque()
            hooks.acquire(address)
            defer { hooks.release(address) }
            return try body(&value)
        }
    }
}

/// The TSan runtime's annotation entry points, present only in sanitized processes.
@usableFromInline enum ThreadSanitizer {
    @usableFromInline typealias Annotation = @convention(c) (UnsafeMutableRawPointer?) -> Void

    /// Both or neither; one lazy global read per critical section.
    @usableFromInline static let hooks: (acquire: Annotation, release: Annotation)? = {
        guard let acquire = lookUp("__tsan_acquire"), let release = lookUp("__tsan_release") else { return nil }
        return (acquire, release)
    }()

    private static func lookUp(_ name: String) -> Annotation? {
        dlsym(nil, name).map { unsafeBitCast($0, to: Annotation.self) }  // nil handle: RTLD_DEFAULT
    }
}
