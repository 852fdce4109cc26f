import ArgumentParser
import Crypto
import Dispatch
import Foundation
import ServiceLifecycle
import UnixSignals
import LogCore
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
        usage: """
            proxy [-c] [-q] [-dW] [-D | -db] [-p PIDFILE] [-x SOCKET] [-sf PID...] [-st PID...] -f haproxy.cfg...
            proxy -v | -vv
            proxy check-agent --listen [HOST:]PORT (--probe tcp://HOST:PORT | --probe-command CMD)
            """,
        discussion: """
            Without a subcommand it runs the proxy, as haproxy does: -f FILE (several, or a directory's *.cfg files), \
            -c checks the configuration and exits, -q prints no warnings, -dW makes warnings fatal, -D runs it as a \
            daemon and -db keeps it in the foreground, -p writes its pid, -sf/-st take over from running processes \
            (soft or hard stop), -v/-vv print its version. See 'proxy help run' for every option.
            """,
        version: Proxy.version,
        subcommands: [Serve.self, CheckAgentCommand.self],
        defaultSubcommand: Serve.self
    )
}

/// `proxy check-agent`: the node-side health agent (the seed's xinetd script on 48700).
struct CheckAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-agent",
        abstract: "Answer health checks: HTTP/1.1 200 OK when the node is fine, 503 Service Unavailable when not.",
        discussion: """
            Replaces the seed's xinetd + shell script on each database node: every connection to --listen is \
            answered after a probe — a TCP connection to --probe tcp://HOST:PORT within --timeout, or \
            --probe-command CMD exiting with 0. Works with option httpchk from this proxy and from HAProxy.
            """)

    @Option(help: "Where to listen: [HOST:]PORT (HOST defaults to 0.0.0.0).")
    var listen: String

    @Option(help: "Probe a TCP address: tcp://HOST:PORT.")
    var probe: String?

    @Option(help: "Probe by running this command with /bin/sh -c (exit status 0: up).")
    var probeCommand: String?

    @Option(help: "Probe timeout in milliseconds.")
    var timeout = 2000

    mutating func validate() throws {
        guard (probe == nil) != (probeCommand == nil) else {
            throw ValidationError("Give one of --probe tcp://HOST:PORT and --probe-command CMD.")
        }
        if let probe, CheckAgentCommand.tcpTarget(probe) == nil {
            throw ValidationError("--probe takes tcp://HOST:PORT, not '\(probe)'")
        }
        if CheckAgentCommand.listenAddress(listen) == nil {
            throw ValidationError("--listen takes [HOST:]PORT, not '\(listen)'")
        }
    }

    static func tcpTarget(_ text: String) -> (String, Int)? {
        guard text.hasPrefix("tcp://"), let address = HostPort(text.dropFirst(6)), let host = address.host,
            let port = address.port, port > 0
        else { return nil }
        return (host, port)
    }

    static func listenAddress(_ text: String) -> (String, Int)? {
        guard let address = HostPort(text, bare: .port), let port = address.port else { return nil }
        return (address.host ?? "0.0.0.0", port)
    }

    mutating func run() throws {
        guard let (host, port) = CheckAgentCommand.listenAddress(listen) else { throw ExitCode(2) }
        let chosen: CheckAgent.Probe =
            probe.flatMap(CheckAgentCommand.tcpTarget).map { .tcp(host: $0.0, port: $0.1) }
            ?? .command(probeCommand ?? "false")
        let timeout = self.timeout
        try runBlocking {
            let agent: CheckAgent
            do {
                agent = try await CheckAgent(
                    host: host, port: port, probe: chosen, timeout: .milliseconds(Int64(timeout)))
            } catch {
                report("[ALERT] cannot start the check agent: \(error)")
                throw ExitCode(1)
            }
            report("[NOTICE] check agent listening on \(host):\(agent.port)")
            // It answers until the process is stopped.
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the proxy (the default): proxy [-c] -f haproxy.cfg.",
        discussion: """
            This build reads haproxy.cfg (global, defaults, frontend, backend, listen; HAProxy's quoting, \
            escapes and time units) and checks it like haproxy -c: `proxy -c -f haproxy.cfg` prints each \
            warning and alert with its file and line, then "Configuration file is valid" (exit 0) or the fatal \
            errors (exit 1). A keyword HAProxy knows and this build does not carry out is an alert, and the \
            configuration is refused (docs/not-in-this-build.md lists them); only tuning whose absence nobody can \
            observe (tune.*, nbproc, ulimit-n…) is a warning, and -dW makes warnings fatal too. A word HAProxy does \
            not know either is an alert with the nearest known word. Without -c it serves in the foreground: binds \
            (TCP, TLS with `ssl crt`, PROXY protocol with accept-proxy) take connections, the backend's balancer \
            (roundrobin, static-rr, leastconn, source, first; backup servers, weights, slowstart) picks a server, \
            connections are retried and redispatched, queued beyond maxconn, relayed with back-pressure and \
            half-close, and each session is logged as HAProxy's tcplog or httplog line to the log targets. In mode \
            http it reads and answers HTTP/1.1 itself (keep-alive, ACLs, use_backend and http-request rules, the \
            stats page). Servers with `check` are health-checked (TCP, httpchk, mysql-check, pgsql-check, \
            redis-check, tcp-check rules) and their state changes logged as HAProxy logs them. Once \
            listening it does what the global section asks, in HAProxy's order: writes the pidfile (or -p), enters \
            the chroot, gives up root for user/group, and with daemon (or -D) returns while it goes on in the \
            background (-db keeps it in the foreground). SIGUSR1 is HAProxy's soft stop (stop accepting, let open \
            sessions finish; -sf PIDS sends it to the old processes once this one listens, -st PIDS stops them at \
            once, -x SOCKET takes their listening sockets over so a reload refuses nothing); SIGTERM and SIGINT \
            stop at once. -W/-Ws run a master that reloads its worker on SIGUSR2. `stats socket` in global serves \
            HAProxy's runtime API (socat, hatop): show info/stat/servers state, set server state \
            ready|drain|maint, weights, maxconn, frontends paused or shut down, each change in the audit trail.
            """
    )

    @Option(
        name: .customShort("f"),
        help: "A haproxy.cfg file to load (several are read in order, as one; a directory: its *.cfg files by name).")
    var configFiles: [String] = []

    @Option(
        name: .customShort("L"),
        help: "This process's name in the peers sections (as HAProxy's -L; default: 'localpeer' in global, else the host name).")
    var localPeer: String?

    @Flag(name: .customShort("c"), help: "Check the configuration and exit, like haproxy -c.")
    var checkOnly = false

    @Flag(name: .customShort("q"), help: "Quiet: print no warnings, only alerts.")
    var quiet = false

    @Flag(
        name: .customLong("dW", withSingleDash: true),
        help: "Zero-warning mode (HAProxy's -dW, or 'zero-warning' in global): any warning is fatal.")
    var zeroWarning = false

    @Option(name: .customShort("p"), help: "Write the process id to this file (a start that cannot create it fails).")
    var pidFile: String?

    @Flag(name: .customLong("db", withSingleDash: true), help: "Stay in the foreground, whatever -D or daemon say.")
    var foreground = false

    @Flag(
        name: .customShort("D"),
        help: "Run as a daemon (as the global 'daemon' keyword): return once the proxy listens, in the background.")
    var daemon = false

    @Option(help: "Put the configuration's pidfile, chroot and stats socket paths under this directory (tests, demos).")
    var root: String?

    @Option(
        name: .customLong("sf", withSingleDash: true), parsing: .upToNextOption,
        help: "Once listening, ask these processes to finish their sessions and stop (HAProxy's soft stop).")
    var finishPIDs: [Int32] = []

    @Option(
        name: .customLong("st", withSingleDash: true), parsing: .upToNextOption,
        help: "Once listening, stop these processes at once.")
    var terminatePIDs: [Int32] = []

    @Flag(
        name: .customShort("W"),
        help: "Master-worker mode (as 'master-worker' in global): a master keeps a worker, and reloads it on SIGUSR2.")
    var masterWorker = false

    @Flag(
        name: .customLong("Ws", withSingleDash: true),
        help: "Master-worker mode for systemd: the master tells the service manager READY and RELOADING, and passes its worker's watchdog pings on.")
    var masterWorkerNotify = false

    @Option(
        name: .customShort("x"),
        help: "Take the listening sockets over from the process behind this stats socket (expose-fd listeners).")
    var takeOverSocket: String?

    @Flag(name: .customShort("v"), help: "Print the version and exit (-vv: and how this build is made).")
    var versionLevel: Int

    mutating func validate() throws {
        if configFiles.isEmpty && versionLevel == 0 { throw ValidationError("No configuration file: use -f FILE.") }
    }

    /// `-v`/`-vv`, as haproxy prints them: the version line, then the build's parts.
    private func printVersion() {
        var system = utsname()
        uname(&system)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        print("Tollgate proxy version \(Proxy.version) \(Proxy.releaseDate) - reads HAProxy 2.6 configurations")
        print("Running on: \(text(system.sysname)) \(text(system.release)) \(text(system.version)) \(text(system.machine))")
        guard versionLevel > 1 else { return }
        print(
            "Build options: Swift 6; plain TCP on its own epoll data plane, HTTP, TLS and PROXY protocol on SwiftNIO "
                + "event loops; one loop of each per thread (nbthread)")
        print("TLS: BoringSSL through swift-nio-ssl (bind ssl crt; server ssl with verify, ca-file, sni, crt; check-ssl)")
        print("Logging: syslog over UDP, TCP and unix sockets (HAProxy's tcplog, httplog and state messages)")
        print("Runtime API: stats socket (UNIX and TCP, levels user, operator, admin), server-state-file")
        print("Health checks: TCP connect, TLS (check-ssl), httpchk, tcp-check rules, mysql-check, pgsql-check, redis-check")
        print("Service manager: sd_notify (READY, STATUS, WATCHDOG)")
    }

    mutating func run() throws {
        if versionLevel > 0 {
            printVersion()
            return
        }
        let loaded: ProxyConfiguration
        do {
            loaded = try HAProxyConfigParser.parse(files: configFiles, localPeer: localPeer)
        } catch {
            if !quiet && !ProcessSetup.isDaemonCopy { for warning in error.warnings { report(warning.description) } }
            for alert in error.alerts { report(alert.description) }
            report("[ALERT] config : Fatal errors found in configuration.")
            throw ExitCode(1)
        }
        // The daemon copy (see ProcessSetup.detach) does not repeat what its parent printed.
        if !quiet && !ProcessSetup.isDaemonCopy { for warning in loaded.warnings { report(warning.description) } }
        if (zeroWarning || loaded.global.zeroWarning) && !loaded.warnings.isEmpty {
            if quiet { for warning in loaded.warnings { report(warning.description) } }
            report("[ALERT] config : Some warnings were found and 'zero-warning' is set. Aborting.")
            throw ExitCode(1)
        }
        // As HAProxy: a configuration without a listener has no error, but the proxy would serve nothing (a
        // `peers` section's frontend counts in a check, not in a start).
        guard loaded.hasListener || (checkOnly && loaded.peers.contains(where: \.hasFrontend)) else {
            if !checkOnly && loaded.peers.contains(where: \.hasFrontend) {
                report("[ALERT] No enabled listener found (check for 'bind' directives) ! Exiting.")
                throw ExitCode(1)
            }
            report("[ALERT] config : Configuration file has no error but will not start (no listener) => exit(2).")
            throw ExitCode(2)
        }
        if checkOnly {
            print("Configuration file is valid")
            return
        }
        if (masterWorker || masterWorkerNotify || loaded.global.masterWorker) && !MasterWorker.isWorker {
            throw ExitCode(runMaster(loaded))
        }
        if (daemon || loaded.global.daemon) && !foreground && !ProcessSetup.isDaemonCopy {
            throw ExitCode(ProcessSetup.detach())
        }
        // The main thread waits here while the services run: it must stay alive (an async main would end it, and
        // /proc and ps would go on showing the process as root after it gives up root).
        let serve = self
        try runBlocking { try await serve.serve(loaded) }
    }

    private func serve(_ configuration: ProxyConfiguration) async throws {
        let ids: (uid: uid_t, gid: gid_t, name: String)?
        do {
            ids = try ProcessSetup.ids(user: configuration.global.user, group: configuration.global.group)
        } catch {
            report("\(error)")
            throw ExitCode(1)
        }
        let jail = ProcessSetup.mapped(configuration.global.chroot, root: root)
        let pidPath = ProcessSetup.mapped(pidFile ?? configuration.global.pidfile, root: root)
        DaemonSignals.unblockAll()
        var configuration = configuration
        for i in configuration.global.statsSockets.indices {
            if case .unix(let path) = configuration.global.statsSockets[i].address,
                let mapped = ProcessSetup.mapped(path, root: root)
            {
                configuration.global.statsSockets[i].address = .unix(mapped)
            }
        }
        let runtime = try ProxyRuntime(
            configuration: configuration, takingOverFrom: takeOverSocket,
            predecessor: !finishPIDs.isEmpty || !terminatePIDs.isEmpty)
        if !quiet && !ProcessSetup.isDaemonCopy {
            for note in runtime.startupNotes { report("[WARNING] config : \(note)") }
        }
        // Trapped before the proxy listens: a signal sent as soon as it does is not lost.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sigusr1)
        let control = StopControl(runtime)
        let (configFiles, finishPIDs, terminatePIDs) = (self.configFiles, self.finishPIDs, self.terminatePIDs)
        let hash = configurationHash()
        let proxy = ProxyService(runtime: runtime, control: control) { bound in
            // A worker's master keeps the pidfile. Written before anything says the proxy started, and before the old
            // processes are told to stop: if it cannot be, they go on serving.
            if !MasterWorker.isWorker, let pidPath, !ProcessSetup.writePidFile(pidPath) {
                throw StartFailure(description: "[ALERT] cannot create pidfile \(pidPath): \(String(cString: strerror(errno))).")
            }
            let listening = "listening on " + bound.map(\.listenerDescription).joined(separator: ", ")
            // The audit trail: who started, on which configuration (its SHA-256), taking over from whom. Sent before
            // the "listening" notice, so that nothing a watcher does on seeing it (a signal) is audited first.
            var started = "start pid=\(getpid()) version=\(Proxy.version) config=sha256:\(hash)"
            started += " files=" + configFiles.joined(separator: ",")
            if !finishPIDs.isEmpty { started += " takeover-soft=" + finishPIDs.map(String.init).joined(separator: ",") }
            if !terminatePIDs.isEmpty { started += " takeover=" + terminatePIDs.map(String.init).joined(separator: ",") }
            runtime.audit(started)
            report("[NOTICE] proxy \(Proxy.version): \(listening)")
            ServiceNotifier.ready(status: listening)
            runtime.notifyServiceManager()
            MasterWorker.reportReady()
            // Now that this process listens, the old ones stop: softly (-sf, they finish their sessions) or at once
            // (-st).
            for pid in finishPIDs { kill(pid, SIGUSR1) }
            for pid in terminatePIDs { kill(pid, SIGTERM) }
            // Then, as HAProxy: chroot, give up root, and (daemon) tell the parent it may return.
            let devNull = ProcessSetup.isDaemonCopy ? open("/dev/null", O_RDWR) : -1
            do {
                try ProcessSetup.confine(chroot: jail, ids: ids)
            } catch {
                throw StartFailure(description: "\(error)")
            }
            ProcessSetup.reportReady(devNull: devNull)
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(
                        service: proxy, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .cancelGroup),
                    .init(service: StopSignals(signals: signals, control: control, runtime: runtime)),
                ],
                logger: .quiet))
        do {
            try await group.run()
        } catch let failure as StartFailure {
            report(failure.description.hasPrefix("cannot start") ? "[ALERT] \(failure)" : "\(failure)")
            throw ExitCode(1)
        }
        // Inside a chroot the path would name another file.
        if let pidPath, jail == nil { ProcessSetup.removePidFileIfOurs(pidPath) }
    }
}

extension Serve {
    /// Master-worker mode: the worker is this command again without -W/-Ws/-D/-p, in the foreground; new workers
    /// take the listeners from the first `stats socket … expose-fd listeners` (a UNIX one).
    func runMaster(_ configuration: ProxyConfiguration) -> Int32 {
        var arguments: [String] = []
        var skipNext = false
        for argument in CommandLine.arguments.dropFirst() {
            if skipNext {
                skipNext = false
                continue
            }
            if ["-W", "-Ws", "-D", "run"].contains(argument) { continue }
            if argument == "-p" {
                skipNext = true
                continue
            }
            arguments.append(argument)
        }
        arguments.append("-db")
        let takeOver = configuration.global.statsSockets.first { $0.exposeListeners }.flatMap { socket -> String? in
            if case .unix(let path) = socket.address { return ProcessSetup.mapped(path, root: root) }
            return nil
        }
        return MasterWorker.run(
            arguments: arguments, notify: masterWorkerNotify,
            pidPath: ProcessSetup.mapped(pidFile ?? configuration.global.pidfile, root: root), takeOver: takeOver)
    }

    /// SHA-256 of the configuration files' bytes, in the order given (what `audit: start` names).
    func configurationHash() -> String {
        var hasher = SHA256()
        for file in configFiles {
            if let data = FileManager.default.contents(atPath: file) { hasher.update(data: data) }
        }
        return ASCII.lowerHex(hasher.finalize())
    }
}

func report(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
