// swift-tools-version: 6.1
// Tollgate: an HAProxy-compatible proxy, an rsyslog-compatible sink and a query tool, in one package.
// The layout follows docs/architecture.md; every target's role is written beside it below.
import PackageDescription

/// The hot paths (parsing, formatting, relaying) skip the run-time exclusivity checks in release builds: the
/// checks cost 2–3% of the sink's TCP ingest in perf and the code holds no overlapping accesses that debug builds
/// (and the tests) would not catch.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Tollgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "proxy", targets: ["ProxyCommand"]),
        .executable(name: "syslog-sink", targets: ["SyslogSinkCommand"]),
        .executable(name: "logquery", targets: ["LogQueryCommand"]),
        .executable(name: "tollgate-demo", targets: ["TollgateDemo"]),
        .library(name: "SyslogProtocol", targets: ["SyslogProtocol"]),
        .library(name: "HAProxyLog", targets: ["HAProxyLog"]),
        .library(name: "LogCore", targets: ["LogCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.0"),
        // The daemons' process life (signals, soft stop, the services' order) as Hummingbird's server lives it:
        // services in a ServiceGroup instead of semaphores and lock boxes around the event loops.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // TLS syslog (RFC 5425, rsyslog's gtls/ossl stream drivers) in and out, and later the proxy's `ssl`: BoringSSL
        // behind NIO's channel handlers, a TLS stack we would not write ourselves.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        // What a TLS peer's certificate says (names, key purposes) for rsyslog's peer checks; swift-nio-ssl's own
        // dependency, so nothing new is built.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.19.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.3.0"),
    ],
    targets: [
        // What both log formats share: civil time in a zone (month table, calendar arithmetic, local offset)
        // and appending decimal text to byte buffers.
        .target(name: "LogCore", swiftSettings: hotPath),
        // sendmmsg(2) for the sender's batches of datagrams and klogctl(2) for imklog's console level (Swift's
        // Glibc module declares neither), posix_spawn's closefrom, and a thread-local slot for the proxy's
        // per-thread counters.
        .target(name: "CDatagrams"),
        // The syslog wire: facilities, severities, RFC 3164/5424 parsing as rsyslog does it, rsyslog's
        // templates, RFC 6587 framing, and a non-blocking sender.
        .target(
            name: "SyslogProtocol",
            dependencies: [
                "LogCore", "CDatagrams",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: hotPath
        ),
        // The HAProxy log record, its formats (tcplog, httplog, CLF, state messages) and a byte parser.
        // No NIO: it must stay small and fast.
        .target(name: "HAProxyLog", dependencies: ["LogCore"], swiftSettings: hotPath),
        // libsystemd (sd-journal, sd-daemon) for the journald action and sd_notify.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // Living as a system service: sd_notify (READY, RELOADING, STOPPING, STATUS, WATCHDOG).
        .target(name: "SystemdSupport", dependencies: ["CSystemd"]),
        // The system calls of the proxy's TCP data plane (epoll, eventfd, accept4, non-blocking connect) in plain C
        // types, and the data plane itself: event loops of its own and a relay on raw descriptors, outside NIO's
        // channels (a connection per request costs a third less there). The only code of the proxy that sees a
        // descriptor; tested on its own (TCPPlaneTests).
        .target(name: "CPlane"),
        .target(
            name: "TCPPlane", dependencies: ["CPlane", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: hotPath),
        .target(
            name: "Proxy",
            dependencies: [
                "SyslogProtocol", "HAProxyLog", "LogCore", "SystemdSupport", "CDatagrams", "CCrypt", "CTLSCheck",
                "CZlib", "TCPPlane",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: hotPath
        ),
        .target(
            name: "SyslogSink",
            dependencies: [
                "SyslogProtocol", "HAProxyLog", "LogCore", "CSystemd", "CDatagrams", "SystemdSupport", "Seal", "LognormShim",
                "CPostgres", "CMariaDB",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: hotPath
        ),
        // liblognorm, the normalizer of rsyslog's mmnormalize (apt liblognorm-dev): rulebases read and run by the
        // library rsyslogd itself uses, so a rulebase means the same to both.
        .systemLibrary(name: "CLognorm", pkgConfig: "lognorm", providers: [.apt(["liblognorm-dev"])]),
        // liblognorm's calls in plain C types (a small C layer of its own; see its header).
        .target(name: "LognormShim", dependencies: ["CLognorm"]),
        // zlib, for reading rotated `.gz` logs as a stream (apt zlib1g-dev).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // crypt(3), for the `password` hashes of HAProxy's userlists: a small C layer over libxcrypt's crypt_r (apt
        // libcrypt-dev), a regular target so that every target importing Proxy sees its module.
        .target(name: "CCrypt", linkerSettings: [.linkedLibrary("crypt")]),
        // BoringSSL's verdict on a cipher list, asked before swift-nio-ssl is handed one (it traps on a refused
        // list): a configuration's `ciphers` are an alert with their line, never a crash at start.
        .target(name: "CTLSCheck", dependencies: [.product(name: "NIOSSL", package: "swift-nio-ssl")]),
        // SQLite (apt libsqlite3-dev), for `logquery sql`: its planner and aggregates over the log parser's rows,
        // through a virtual table (rows fed as SQLite asks, only the columns a query names), rather than an SQL
        // engine of our own.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // The sink's ompgsql output speaks to PostgreSQL through libpq, as rsyslog's does (its protocol, TLS,
        // authentication methods and connection strings are libpq's; a client of our own would differ from it).
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // ommysql speaks to MySQL and MariaDB through MariaDB's Connector/C, the library Debian builds rsyslog's
        // ommysql with (its protocol, authentication plugins, TLS and option files are what users' servers expect).
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .target(name: "LogQuery", dependencies: ["HAProxyLog", "LogCore", "CZlib", "CSQLite", "CSystemd"]),
        // Tamper-evident log files: the seal sidecar the sink writes and logquery verifies.
        .target(
            name: "Seal", dependencies: ["LogCore", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: hotPath),
        .executableTarget(
            name: "ProxyCommand",
            dependencies: [
                "Proxy", "LogCore", "SystemdSupport", "CDatagrams",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "SyslogSinkCommand",
            dependencies: [
                "SyslogSink", "SystemdSupport", "LogCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "LogQueryCommand",
            dependencies: ["LogQuery", "HAProxyLog", "LogCore", "Seal", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // `make demo`: one log line through every part that exists, over a real socket.
        .executableTarget(
            name: "TollgateDemo",
            dependencies: [
                "SyslogProtocol", "HAProxyLog", "LogCore", "TestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Helpers for tests only: loopback sockets, timeouts, temporary directories, process launchers.
        .target(
            name: "TestSupport",
            dependencies: [
                "HAProxyLog", "LogCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SyslogProtocolTests",
            dependencies: [
                "SyslogProtocol", "LogCore", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        // The TCP data plane's unsafe layer on its own: loop, timers, listener and relay on loopback sockets.
        .testTarget(
            name: "TCPPlaneTests",
            dependencies: [
                "TCPPlane", "CDatagrams", "TestSupport", .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "HAProxyLogTests",
            dependencies: [
                "HAProxyLog", "SyslogProtocol", "LogCore", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "SyslogSinkTests",
            dependencies: ["SyslogSink", "SyslogProtocol", "LogCore", "TestSupport"]
        ),
        .testTarget(
            name: "ProxyTests",
            dependencies: [
                "Proxy", "SyslogProtocol", "HAProxyLog", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "LogQueryTests",
            dependencies: [
                "LogQuery", "HAProxyLog", "LogCore", "TestSupport", "Seal", "SyslogSink", "SyslogProtocol",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // The real Debian peers: haproxy 2.6, halog, rsyslogd 8.2302 (installed by `make test`).
        .testTarget(
            name: "InteropTests",
            dependencies: [
                "HAProxyLog", "SyslogProtocol", "SyslogSink", "LogQuery", "LogCore", "TestSupport", "Proxy", "Seal",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
