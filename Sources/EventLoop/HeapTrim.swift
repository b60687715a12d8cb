import CLinux

/// Returns freed heap pages to the kernel (glibc keeps them otherwise, so RSS would report
/// transient request buffers long after they were freed).
public enum HeapTrim {
    public static func now() { _ = clinux_malloc_trim() }
}
