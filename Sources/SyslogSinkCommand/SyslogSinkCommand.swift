import ArgumentParser
import Dispatch
import Foundation
import ServiceLifecycle
import UnixSignals
import LogCore
import SyslogSink
import SystemdSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct SyslogSinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syslog-sink",
        abstract: "An rsyslog-compatible syslog receiver that writes the files rsyslog would write.",
        discussion: """
            Reads rsyslog.conf: the legacy syntax (selectors, actions, & continuations, property filters, $ \
            directives, $IncludeConfig) and RainerScript (module(), input(), global(), template(), action(), \
            ruleset() with call, include(), if … then … else if … else, set/unset/reset with $! and $. variables, \
            the common functions, mmjsonparse); $RepeatedMsgReduction. -N1 checks a configuration the way \
            rsyslogd -N1 does. This build receives UDP, TCP (octet-counted or LF-framed; imtcp, imptcp), the local \
            socket (/dev/log, imuxsock), the kernel's log (imklog), systemd's journal (imjournal), followed files \
            (imfile) and marks (immark); writes files with rsyslog's built-in templates or string and list \
            templates (property replacer, JSON and CSV formats, jsonmesg), dynaFiles and named pipes, and forwards \
            to other syslog servers (@host, @@host, omfwd) and to systemd-journald (omjournal). Without -n it goes \
            to the background once started (writing /run/syslog-sink.pid unless -i says otherwise), as rsyslogd; \
            $PrivDropToUser/Group drop root once the inputs are bound. SIGHUP closes the files (logrotate), SIGUSR1 \
            prints the counters, --metrics serves them to Prometheus, SIGTERM/SIGINT write what is buffered, print \
            the counters (and any lines a file could not take) and stop. Its own messages (start, HUP, stop, errors) \
            go, as syslog.* lines tagged syslog-sink, through its own /dev/log rules (else the system's /dev/log, \
            else standard error). What it cannot honour (a module, input or output not in this build, TLS settings, \
            a parameter it does not honour or know, a missing included file) is an error naming file and line: -N1 \
            exits 1, as rsyslogd's; at start each is named (standard error, its own log, the service status, a \
            metric), the object is left out and the rest runs. See docs/not-in-this-build-sink.md.
            """,
        version: SyslogSink.version
    )

    @Option(name: .customShort("f"), help: "The rsyslog.conf file to load.")
    var configFile = "/etc/tollgate/rsyslog.conf"

    @Option(
        name: .customShort("N", allowingJoined: true), help: "Check the configuration and exit (-N1), like rsyslogd.")
    var checkLevel: Int?

    @Flag(
        name: .customShort("n"),
        help: "Stay in the foreground. Without it the sink goes to the background once it has started, as rsyslogd.")
    var foreground = false

    @Option(
        name: .customShort("i"),
        help: "Write the process id to this file (in the background, /run/syslog-sink.pid unless given).")
    var pidFile: String?

    @Option(help: "Map every absolute output path under this folder (for demos and tests).")
    var root: String?

    @Option(
        name: .customLong("metrics"),
        help: "Serve the counters to Prometheus over HTTP on [HOST:]PORT (HOST defaults to 127.0.0.1).")
    var metricsAddress: String?

    @Option(help: "The path the counters are served at.")
    var metricsPath = "/metrics"

    @Flag(
        name: .customLong("journal"),
        help: "Also send every message received to systemd-journald, whatever the rules do with it.")
    var journalEverything = false

    mutating func validate() throws {
        if let metricsAddress, SyslogSinkCommand.hostAndPort(metricsAddress) == nil {
            throw ValidationError("--metrics takes [HOST:]PORT, such as 9514 or 0.0.0.0:9514, not '\(metricsAddress)'")
        }
        guard metricsPath.hasPrefix("/") else { throw ValidationError("--metrics-path must start with '/'") }
    }

    /// `[HOST:]PORT` (an IPv6 host in brackets: `[::1]:9514`), the host 127.0.0.1 when none is written.
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        guard let address = HostPort(text, bare: .port), let port = address.port else { return nil }
        return (address.host ?? "127.0.0.1", port)
    }

    mutating func run() throws {
        // (pidFile may be set below: in the background it defaults to /run/syslog-sink.pid.)
        let configuration: SinkConfiguration
        do {
            configuration = try RsyslogConfigParser.parse(file: configFile)
        } catch let error as ConfigDiagnostic {
            report("syslog-sink: \(error)")
            throw ExitCode(1)
        }
        for warning in configuration.warnings { report("syslog-sink: \(warning)") }
        for error in configuration.errors { report("syslog-sink: \(error)") }
        if !configuration.hasActiveActions && !journalEverything {
            // As rsyslogd: nothing would be delivered anywhere, so it does not run (nor pass -N1).
            report(
                "syslog-sink: \(configFile): there are no active actions configured. Inputs would run, but no output "
                    + "whatsoever were created.")
            throw ExitCode(1)
        }
        if checkLevel != nil {
            // As rsyslogd -N1: any error fails the check (the daemon would start without what it names).
            guard configuration.errors.isEmpty else {
                report(
                    "syslog-sink: \(configuration.errors.count) error(s) in the configuration: what they name would "
                        + "not be carried out. See docs/not-in-this-build-sink.md.")
                throw ExitCode(1)
            }
            report(
                "syslog-sink: version \(SyslogSink.version), config validation run (level \(checkLevel ?? 1)), "
                    + "master config \(configFile): \(configuration.rules.count) rules, "
                    + "\(configuration.inputs.count) inputs, \(configuration.files.count) files read")
            report("syslog-sink: End of config validation run. Bye.")
            return
        }
        if configuration.abortOnUncleanConfig && !configuration.errors.isEmpty {
            report("syslog-sink: the configuration has errors and abortOnUncleanConfig is set: not starting.")
            throw ExitCode(1)
        }
        var running = configuration
        running.journalEverything = journalEverything
        // As rsyslogd without -n: into the background, the parent exiting once the sink has started (or with the
        // reason it could not). Done before any thread is made.
        let ready = foreground ? nil : try Daemon.detach()
        if ready != nil && pidFile == nil && root == nil { pidFile = "/run/syslog-sink.pid" }
        try serve(running, ready: ready)
    }

    private func serve(_ configuration: SinkConfiguration, ready: Daemon.Ready?) throws {
        DaemonSignals.unblockAll()
        if let mask = configuration.umask { umask(mode_t(mask)) }  // $Umask, as rsyslogd applies it
        if let files = configuration.maxOpenFiles {
            // $MaxOpenFiles, as rsyslogd sets it (both limits; lowering is allowed, raising needs root).
            var limit = rlimit(rlim_cur: rlim_t(files), rlim_max: rlim_t(files))
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
                report("syslog-sink: $MaxOpenFiles \(files): \(String(cString: strerror(errno)))")
            }
        }
        let server = try SinkServer(configuration: configuration, root: root)
        for note in server.notes { report("syslog-sink: \(note)") }
        let metrics = metricsAddress.flatMap(SyslogSinkCommand.hostAndPort)
        let (metricsPath, pidFile, root) = (self.metricsPath, self.pidFile, self.root)
        // The main thread waits here while the services run (see runBlocking: it must stay alive for the
        // privilege drop to show in /proc).
        try runBlocking {
            let signals = await UnixSignalsSequence(trapping: .sighup, .sigusr1, .sigterm, .sigint)
            let stopRequest = Latch()
            let sink = SinkService(stopRequest: stopRequest) {
                var bound: [String]
                do {
                    bound = try await server.start().map { "\($0)" }
                    if let metrics {
                        let endpoint = try await server.serveMetrics(
                            host: metrics.host, port: metrics.port, path: metricsPath)
                        bound.append("\(endpoint)\(metricsPath)")
                    }
                } catch {
                    throw StartFailure(description: "cannot start: \(error)")
                }
                try Self.started(configuration, server: server, bound: bound, pidFile: pidFile, root: root, ready: ready)
            } stop: {
                var lost = (try? await server.lastFlush()) ?? []
                let c = try? await server.counters()
                for line in (try? await server.statistics()) ?? [] { report("syslog-sink: stats: \(line)") }
                lost += (try? await server.stop()) ?? []
                if let c {
                    report(
                        "syslog-sink: stopping: \(c.processed) messages, \(c.written) bytes written, \(c.failed) write failures"
                            + (lost.isEmpty ? "" : "; lines LOST in \(lost.count) file(s):"))
                }
                for line in lost { report("syslog-sink: \(line)") }
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [
                        .init(
                            service: sink, successTerminationBehavior: .gracefullyShutdownGroup,
                            failureTerminationBehavior: .cancelGroup),
                        .init(service: SinkSignals(signals: signals, server: server, stopRequest: stopRequest)),
                    ],
                    logger: .quiet))
            do {
                try await group.run()
            } catch let failure as StartFailure {
                report("syslog-sink: \(failure)")
                _ = try? await server.stop()
                throw ExitCode(1)
            }
        }
        if let pidFile { unlink(pidFile) }
    }

    /// The inputs are bound: what a started sink does, as rsyslogd does it (the privilege drop, the pidfile, the
    /// notices, its own messages from now on through its rules).
    private static func started(
        _ configuration: SinkConfiguration, server: SinkServer, bound: [String], pidFile: String?, root: String?,
        ready: Daemon.Ready?
    ) throws {
        // Root is no longer needed, as rsyslogd drops it here.
        if configuration.privilegeDrop.isRequested {
            if let problem = configuration.privilegeDrop.apply() {
                throw StartFailure(description: "cannot drop privileges (\(problem)): not going on as root")
            }
            report("syslog-sink: now running as user \(getuid()), group \(getgid())")
        }
        if let pidFile, let f = fopen(pidFile, "w") {
            fputs("\(getpid())\n", f)
            fclose(f)
        }
        report("syslog-sink: started, listening on \(bound.joined(separator: ", "))")
        ready?.started()
        // Our own messages from now on: through our local socket's rules when we read one, else to the system's
        // (not under --root, which is for demos and tests), as rsyslogd hands its own to syslog(3).
        if let deliver = server.ownMessageDelivery() {
            InternalLog.use(deliver)
        } else if root == nil {
            InternalLog.use(socket: "/dev/log")
        }
        InternalLog.log("\(InternalLog.origin) start")
        // As rsyslogd: it runs with what it can, and says what it left out, in its own log and its status.
        for error in configuration.errors { InternalLog.log("syslog-sink: error during config processing: \(error)") }
        let errors =
            configuration.errors.isEmpty
            ? "" : "; \(configuration.errors.count) configuration error(s): parts not carried out, see the log"
        ServiceNotifier.ready(status: "listening on \(bound.joined(separator: ", "))" + errors)
        server.notifyServiceManager()
    }
}

/// Going to the background as rsyslogd does without -n.
enum Daemon {
    /// The child's promise to its waiting parent.
    struct Ready {
        let fd: Int32
        /// Tells the parent the sink has started (it exits 0), then lets go of the terminal.
        func started() {
            var ok: UInt8 = 1
            _ = write(fd, &ok, 1)
            close(fd)
            let null = open("/dev/null", O_RDWR)
            if null >= 0 {
                for target in [Int32(0), 1, 2] { dup2(null, target) }
                if null > 2 { close(null) }
            }
        }
    }

    /// Forks: the parent waits for the child's word and exits with it (1 when the child stops without a word:
    /// it has said why on the shared standard error); the child starts a session of its own and goes on.
    static func detach() throws -> Ready {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            report("syslog-sink: cannot go to the background: \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        let pid = fork()
        if pid < 0 {
            report("syslog-sink: cannot go to the background: \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        if pid > 0 {
            close(fds[1])
            var word: UInt8 = 0
            let n = read(fds[0], &word, 1)
            exit(n == 1 && word == 1 ? 0 : 1)
        }
        close(fds[0])
        setsid()
        closeInherited(except: fds[1])
        return Ready(fd: fds[1])
    }

    /// Closes every descriptor the sink inherited besides the standard three and `keep`, as a daemon does: one
    /// left open keeps whoever started the sink waiting for it (a pipe, or the socket a supervisor watches).
    static func closeInherited(except keep: Int32) {
        guard let dir = opendir("/proc/self/fd") else { return }
        var open: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if let fd = Int32(name), fd > 2, fd != keep { open.append(fd) }
        }
        let listing = dirfd(dir)
        closedir(dir)
        for fd in open where fd != listing { close(fd) }
    }
}

func report(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// The error a command reports for a feature that has not landed yet, so that it never pretends to work.
struct NotInThisBuild: Error, CustomStringConvertible {
    var feature: String
    var description: String { "\(feature) is not implemented in this build" }
}
