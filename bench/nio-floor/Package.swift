// swift-tools-version:6.0
// The barest SwiftNIO TCP proxy, for bench/nio-floor.sh: what any NIO-based proxy pays per connection.
// A package of its own (not part of Tollgate's build or tests).
import PackageDescription

let package = Package(
    name: "nio-floor",
    dependencies: [.package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0")],
    targets: [
        .executableTarget(
            name: "nio-floor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ])
    ]
)
