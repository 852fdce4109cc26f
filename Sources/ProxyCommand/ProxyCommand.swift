import ArgumentParser
import Dispatch
import Foundation
import Proxy
import SystemdSupport

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
            ignored. Without -c it runs in the foreground: each frontend/listen bind accepts TCP connections, \
            its backend's balancer (roundrobin, static-rr, leastconn, source, first; backup servers) picks a \
            server, connections are retried (option redispatch moves the last retry), both directions are \
            relayed with back-pressure and half-close, and each session is logged as an option tcplog line to \
            the log targets. Servers with `check` are health-checked (TCP connect or option httpchk, rise/fall, \
            inter/fastinter/downinter) and their state changes logged as HAProxy logs them. SIGTERM, SIGINT and \
            SIGUSR1 stop it. Not in this build yet: HTTP mode (relayed as TCP, with a warning), maxconn queues, \
            the stats page.
            """,
        version: Proxy.version
    )

    @Option(name: .customShort("f"), help: "A haproxy.cfg file to load (several are read in order, as one).")
    var configFiles: [String] = []

    @Flag(name: .customShort("c"), help: "Check the configuration and exit, like haproxy -c.")
    var checkOnly = false

    @Flag(name: .customShort("q"), help: "Quiet: print no warnings, only alerts.")
    var quiet = false

    @Option(name: .customShort("p"), help: "Write the process id to this file.")
    var pidFile: String?

    @Flag(name: .customLong("db", withSingleDash: true), help: "Stay in the foreground (this build always does).")
    var foreground = false

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
        try serve(loaded)
    }

    private func serve(_ configuration: ProxyConfiguration) throws {
        DaemonSignals.unblockAll()
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGUSR1, SIG_IGN)
        let runtime = try ProxyRuntime(configuration: configuration)
        for note in runtime.notes { report("[WARNING] \(note)") }
        let started = DispatchSemaphore(value: 0)
        let outcome = LockedResult()
        Task {
            do {
                let bound = try await runtime.start()
                outcome.set(
                    "listening on " + bound.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" }.joined(separator: ", "))
            } catch {
                outcome.set(nil, failure: "\(error)")
            }
            started.signal()
        }
        started.wait()
        if let failure = outcome.failure {
            report("[ALERT] cannot start: \(failure)")
            throw ExitCode(1)
        }
        report("[NOTICE] proxy \(Proxy.version): \(outcome.text ?? "")")
        ServiceNotifier.ready(status: outcome.text)
        runtime.notifyServiceManager()
        if let pidFile, let f = fopen(pidFile, "w") {
            fputs("\(getpid())\n", f)
            fclose(f)
        }
        let done = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT, SIGUSR1] {
            let source = DispatchSource.makeSignalSource(signal: sig)
            source.setEventHandler {
                ServiceNotifier.stopping()
                done.signal()
            }
            source.resume()
            sources.append(source)
        }
        done.wait()
        let stopped = DispatchSemaphore(value: 0)
        Task {
            try? await runtime.stop()
            stopped.signal()
        }
        stopped.wait()
        if let pidFile { unlink(pidFile) }
        withExtendedLifetime(sources) {}
    }
}

func report(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// What the start task reports to the command's thread.
final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var storedText: String?
    private var storedFailure: String?
    func set(_ text: String?, failure: String? = nil) {
        lock.withLock {
            storedText = text
            storedFailure = failure
        }
    }
    var text: String? { lock.withLock { storedText } }
    var failure: String? { lock.withLock { storedFailure } }
}
