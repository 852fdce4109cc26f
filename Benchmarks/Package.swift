// swift-tools-version: 6.1
// Micro-benchmarks for the parsers and formatters on the hot paths (ordo-one/benchmark). Kept in a package of
// their own so that `swift test` in the main package never builds the benchmark tooling. Run with `make bench`.
import Foundation
import PackageDescription

// A path dependency is known by its folder's name, which is whatever the checkout is called.
let tollgate = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "TollgateBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        // Only the MallocInterposer trait: the default traits pull a package that is not available here.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LogFormats",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HAProxyLog", package: tollgate),
                .product(name: "SyslogProtocol", package: tollgate),
                .product(name: "LogCore", package: tollgate),
            ],
            path: "Benchmarks/LogFormats",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // A peer of HAProxy's peers protocol for bench/peers-vs-haproxy.sh (written apart from the proxy's code).
        .executableTarget(name: "peers-load", path: "Tools/PeersLoad"),
        // A load generator for bench/sink-vs-rsyslog.sh: numbered syslog messages over UDP or TCP.
        .executableTarget(name: "syslog-load", path: "Tools/SyslogLoad"),
        // Not a micro-benchmark: the parser over a whole file, run beside halog by bench/parser-vs-halog.sh.
        .executableTarget(
            name: "parse-file",
            dependencies: [.product(name: "HAProxyLog", package: tollgate)],
            path: "Tools/ParseFile"
        ),
    ]
)
