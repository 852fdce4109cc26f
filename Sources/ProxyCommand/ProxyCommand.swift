import ArgumentParser
import Proxy

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "An HAProxy-compatible TCP and HTTP load balancer that logs every session over syslog.",
        discussion: """
            This build reads haproxy.cfg (global, defaults, frontend, backend, listen; HAProxy's quoting, \
            escapes and time units) and checks it like haproxy -c: `proxy -c -f haproxy.cfg` prints each \
            warning and alert with its file and line, then "Configuration file is valid" (exit 0) or the fatal \
            errors (exit 1). A keyword this build does not carry out is a warning naming it, never silently \
            ignored. Forwarding, health checks and logging sessions are not in this build yet: without -c the \
            proxy checks the configuration and exits with an error rather than pretend to run.
            """,
        version: Proxy.version
    )

    @Option(name: .customShort("f"), help: "A haproxy.cfg file to load (several are read in order, as one).")
    var configFiles: [String] = []

    @Flag(name: .customShort("c"), help: "Check the configuration and exit, like haproxy -c.")
    var checkOnly = false

    @Flag(name: .customShort("q"), help: "Quiet: print no warnings, only alerts.")
    var quiet = false

    mutating func validate() throws {
        if configFiles.isEmpty { throw ValidationError("No configuration file: use -f FILE.") }
    }

    mutating func run() throws {
        let loaded: ProxyConfiguration
        do {
            loaded = try HAProxyConfigParser.parse(files: configFiles)
        } catch {
            if !quiet { for warning in error.warnings { report(warning.description) } }
            for alert in error.alerts { report(alert.description) }
            report("[ALERT] config : Fatal errors found in configuration.")
            throw ExitCode(1)
        }
        if !quiet { for warning in loaded.warnings { report(warning.description) } }
        if checkOnly {
            print("Configuration file is valid")
            return
        }
        report("[ALERT] proxy: forwarding is not implemented in this build; the configuration is valid.")
        throw ExitCode(1)
    }
}

func report(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
