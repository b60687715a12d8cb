// swift-tools-version:6.0
// StudioGate: a caching gateway for Twilio Studio. No package dependencies by design:
// Glibc sockets + epoll for the front, system libcurl (CCurl) on the same loops for the upstream,
// system zlib (CZlib).
import PackageDescription

/// What the test support and each level of tests may import: every library target.
let libraries: [Target.Dependency] = [
    "Compression", "EventLoop", "HTTP", "HTTPServer", "Studio", "Upstream", "Gateway", "Auth", "Cache", "Locking",
    "Redis",
    "Fleet", "MockStudio", "Sealing", "TLS",
]

let package = Package(
    name: "StudioGate",
    products: [
        .executable(name: "studiogate", targets: ["studiogate"]),
        .executable(name: "mock-studio", targets: ["mock-studio"]),
        .library(name: "MockStudio", targets: ["MockStudio"]),
    ],
    targets: [
        // The system libraries, declared with their pkg-config names and Debian packages: where one
        // is missing, SwiftPM's warning names the package to install (scripts/dev.sh installs them).
        // Module maps with `link` and no headers; the C targets below include the headers themselves.
        .systemLibrary(name: "SystemZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "SystemCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "SystemOpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // System zlib plus a shim for the deflateInit2/inflateInit2 macros Swift cannot call.
        // linkerSettings too: a module map's `link` applies only where the module is imported.
        .target(name: "CZlib", dependencies: ["SystemZlib"], linkerSettings: [.linkedLibrary("z")]),
        .target(name: "Compression", dependencies: ["CZlib"]),
        // System libcurl (libcurl4-openssl-dev) plus typed wrappers for its variadic setters.
        .target(name: "CCurl", dependencies: ["SystemCurl"], linkerSettings: [.linkedLibrary("curl")]),
        // System OpenSSL (libssl-dev): TLS for Redis (and later the upstream), AES-256-GCM sealing, HMAC;
        // plus functions for the macros Swift cannot call.
        .target(
            name: "COpenSSL", dependencies: ["SystemOpenSSL"],
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // `--data-key`: AES-256-GCM sealing of what leaves memory (Redis values, snapshots), HMAC; key rotation.
        .target(name: "Sealing", dependencies: ["COpenSSL", "Locking"]),
        // TLS clients as pure engines over memory BIOs (the caller's loop does the socket I/O), peer
        // verification always on: Redis over rediss:// now, the upstream's own HTTP/2 client later.
        .target(name: "TLS", dependencies: ["COpenSSL"]),
        // fd ownership, non-blocking syscalls, epoll loops, eventfd wake-ups.
        .target(name: "CLinux"),
        .target(name: "EventLoop", dependencies: ["CLinux", "Locking"]),
        // Shared state behind a lock ThreadSanitizer can see.
        .target(name: "Locking"),
        // HTTP/1.1 codec over bytes; pure, no I/O.
        .target(name: "HTTP"),
        // Connections: the codec driven by the event loops.
        .target(name: "HTTPServer", dependencies: ["EventLoop", "HTTP"]),
        // Studio routes, SIDs, Twilio error bodies; pure.
        .target(name: "Studio", dependencies: ["HTTP"]),
        // Which account each credential is proven to belong to; SHA-256 digests only.
        .target(name: "Auth", dependencies: ["Locking"]),
        // Entries, policy, LRU budget, coalescing; pure, clock injected.
        .target(name: "Cache", dependencies: ["HTTP", "Studio", "Compression", "Locking"]),
        // libcurl multi-socket on the event loops: the client for the real (or mock) Studio.
        .target(name: "Upstream", dependencies: ["CCurl", "EventLoop", "Compression", "HTTP"]),
        // RESP2 client on the event loops: the shared second-level cache (issue 17). Its parser and
        // encoder are pure; connections, deadlines, reconnects and the circuit breaker use the loops;
        // rediss:// goes through a TLS session.
        .target(name: "Redis", dependencies: ["EventLoop", "Locking", "TLS"]),
        // The fleet: the second cache level shared by every pod through Redis (entries, proofs,
        // leases, invalidations), feeding this pod's first level through `FirstLevel`.
        .target(name: "Fleet", dependencies: ["Auth", "Cache", "EventLoop", "Locking", "Redis", "Sealing", "Studio"]),
        // The request pipeline and its configuration.
        .target(
            name: "Gateway",
            dependencies: [
                "HTTP", "HTTPServer", "Studio", "Upstream", "Compression", "Auth", "Cache", "Locking", "Redis", "Fleet",
                "Sealing",
                "TLS",
            ]),
        // Blocks the shutdown signals from the executable's .preinit_array, before any library initialiser.
        .target(name: "CStartup"),
        // Every module an executable imports is named, so a change to its layout rebuilds the executable.
        .executableTarget(
            name: "studiogate", dependencies: ["Gateway", "MockStudio", "CStartup", "HTTPServer", "EventLoop"]),
        // A spec-faithful in-memory fake of Studio's Execution APIs with a control API for tests.
        .target(name: "MockStudio", dependencies: ["HTTP", "HTTPServer", "Studio", "Compression", "Locking"]),
        .executableTarget(name: "mock-studio", dependencies: ["MockStudio", "HTTPServer", "EventLoop"]),
        // What every level of tests shares: harnesses, fakes, fixtures (Hummingbird's test framework is the model).
        .target(
            name: "TestSupport",
            dependencies: libraries, path: "Tests/TestSupport"),
        // Three levels. Pure units: no sockets, no loops, clock passed in.
        .testTarget(
            name: "UnitTests",
            dependencies: libraries + ["TestSupport"]),
        // In process: real loops and sockets on loopback, a scripted upstream, fake Redis servers.
        .testTarget(
            name: "InProcessTests",
            dependencies: libraries + ["TestSupport"]),
        // End to end: the real binaries, a real redis-server, nginx, the twilio SDK.
        .testTarget(
            name: "EndToEndTests",
            dependencies: libraries + ["TestSupport", "studiogate", "mock-studio"]),
    ]
)
