import ArgumentParser
import Proxy

@main
struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "An HAProxy-compatible TCP and HTTP load balancer that logs every session over syslog.",
        discussion: """
            Forwarding, configuration loading and health checks are not in this build yet: the proxy \
            recognises its options and exits with an error rather than pretend to run.
            """,
        version: Proxy.version
    )

    @Option(name: .customShort("f"), help: "The haproxy.cfg file to load.")
    var configFile: String?

    @Flag(name: .customShort("c"), help: "Check the configuration and exit, like haproxy -c.")
    var checkOnly = false

    mutating func run() throws {
        throw NotInThisBuild(feature: "forwarding")
    }
}

/// The error a command reports for a feature that has not landed yet, so that it never pretends to work.
struct NotInThisBuild: Error, CustomStringConvertible {
    var feature: String
    var description: String { "\(feature) is not implemented in this build" }
}
