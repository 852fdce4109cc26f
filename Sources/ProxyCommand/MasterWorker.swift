import CDatagrams
import Foundation
import SystemdSupport

#if canImport(Glibc)
    import Glibc
#endif

/// HAProxy's master-worker mode (`-W`, `-Ws`, `master-worker` in global): this process does not serve; it starts a
/// worker (this program again, in the foreground) and keeps it: SIGUSR2 or SIGHUP starts a new worker on the
/// configuration as it is now, which takes the listening sockets over (`-x`, when a `stats socket` has `expose-fd
/// listeners`) and sends the old one its soft stop (`-sf`); a new worker that does not start leaves the old one in
/// place. SIGTERM/SIGINT stop the worker at once, SIGUSR1 softly, and the master with it; a worker that ends on its
/// own ends the master with its status. With `-Ws` the master tells the service manager READY, RELOADING and READY
/// again (its pid stays the unit's main pid, so `ExecReload=kill -USR2 $MAINPID` works), and passes the workers'
/// `WATCHDOG=1` and `STATUS=` on (they send them to a socket of the master's: a stuck worker stops the pings). A
/// fresh program rather than fork(): the event loops' threads would not survive a fork.
enum MasterWorker {
    /// Set in a worker's environment: where it reports that it listens, and that it is a worker (no pidfile).
    static let workerVariable = "TOLLGATE_PROXY_WORKER_FD"

    static var isWorker: Bool { ProcessInfo.processInfo.environment[workerVariable] != nil }

    /// In a worker, once it listens: the master may go on.
    static func reportReady() {
        guard let text = ProcessInfo.processInfo.environment[workerVariable], let fd = Int32(text) else { return }
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
        close(fd)
    }

    /// Runs the master; returns its exit status. `arguments` are the worker's (this program's, without -W/-Ws/-D);
    /// `takeOver` is the stats socket new workers take the listeners from.
    static func run(arguments: [String], notify: Bool, pidPath: String?, takeOver: String?) -> Int32 {
        // Signals are taken with sigwait: blocked here, before any thread starts.
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT, SIGCHLD] { sigaddset(&signals, s) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        if let pidPath, !ProcessSetup.writePidFile(pidPath) {
            report("[ALERT] master: cannot create pidfile \(pidPath): \(String(cString: strerror(errno))).")
            return 1
        }
        defer { if let pidPath { ProcessSetup.removePidFileIfOurs(pidPath) } }
        // The workers' notifications come to the master (an abstract UNIX datagram socket).
        let relay = notify ? NotificationRelay() : nil
        guard var worker = start(arguments, notifySocket: relay?.name) else {
            report("[ALERT] master: the worker did not start.")
            return 1
        }
        if notify { _ = ServiceNotifier.notify("READY=1\nMAINPID=\(getpid())") }
        report("[NOTICE] master: worker \(worker) started.")
        while true {
            var caught: Int32 = 0
            // A tenth of a second at most between two looks at the workers' notifications.
            var wait = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            caught = sigtimedwait(&signals, nil, &wait)
            relay?.forward()
            switch caught {
            case SIGUSR2, SIGHUP:
                if notify { ServiceNotifier.reloading() }
                var next = arguments
                if let takeOver, access(takeOver, F_OK) == 0 { next += ["-x", takeOver] }
                next += ["-sf", "\(worker)"]
                if let started = start(next, notifySocket: relay?.name) {
                    report("[NOTICE] master: reloaded, worker \(started) took over from \(worker).")
                    worker = started
                } else {
                    report("[ALERT] master: the new worker did not start; worker \(worker) goes on.")
                }
                if notify { ServiceNotifier.ready() }
            case SIGTERM, SIGINT, SIGUSR1:
                if notify { ServiceNotifier.stopping() }
                kill(worker, caught == SIGUSR1 ? SIGUSR1 : SIGTERM)
                return waitForAll()
            case SIGCHLD:
                // Old workers finishing after a reload are reaped; the current one ending ends the master.
                var status: Int32 = 0
                while case let pid = waitpid(-1, &status, WNOHANG), pid > 0 {
                    if pid == worker {
                        if notify { ServiceNotifier.stopping() }
                        report("[ALERT] master: worker \(worker) ended.")
                        _ = waitForAll()
                        return exitStatus(status)
                    }
                }
            default:
                break
            }
        }
    }

    /// Starts a worker and waits until it listens; nil if it ends first.
    private static func start(_ arguments: [String], notifySocket: String?) -> pid_t? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        var environment = ProcessInfo.processInfo.environment
        environment[workerVariable] = "3"
        // The worker does not talk to the service manager: its notifications go to the master, which passes the
        // watchdog and status ones on. WATCHDOG_PID names the master: the worker's check would refuse it.
        environment["NOTIFY_SOCKET"] = notifySocket
        environment["WATCHDOG_PID"] = nil
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 3)
        _ = tollgate_spawn_close_from(&actions, 4)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The worker starts with the signals unblocked (the master blocked them for sigwait).
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = ([CommandLine.arguments[0]] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, "/proc/self/exe", &actions, &attributes, argv, envp)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            return nil
        }
        var byte: UInt8 = 0
        let got = read(fds[0], &byte, 1)
        close(fds[0])
        if got == 1 { return child }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        return nil
    }

    private static func waitForAll() -> Int32 {
        var last: Int32 = 0
        var status: Int32 = 0
        while waitpid(-1, &status, 0) > 0 { last = exitStatus(status) }
        return last
    }

    private static func exitStatus(_ status: Int32) -> Int32 {
        // WIFEXITED / WEXITSTATUS, which Swift's Glibc does not import as functions.
        status & 0x7F == 0 ? (status >> 8) & 0xFF : 1
    }
}

/// The master's end of its workers' sd_notify messages: an abstract UNIX datagram socket whose name the workers get
/// as NOTIFY_SOCKET; `forward` passes their `WATCHDOG=1` and `STATUS=` lines to the service manager (READY,
/// RELOADING and STOPPING are the master's own to say).
final class NotificationRelay {
    let name: String
    private let fd: Int32

    init?() {
        let name = "@tollgate-proxy-master-\(getpid())"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8.dropFirst())
        // Abstract: a NUL first, then the name (its length is the address's).
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw[0] = 0
            for (i, b) in bytes.enumerated() { raw[i + 1] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            close(fd)
            return nil
        }
        self.name = name
        self.fd = fd
    }

    deinit { close(fd) }

    func forward() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = recv(fd, &buffer, buffer.count, 0)
            guard got > 0 else { return }
            let text = String(decoding: buffer[..<got], as: UTF8.self)
            let passed = text.split(separator: "\n").filter { $0 == "WATCHDOG=1" || $0.hasPrefix("STATUS=") }
            if !passed.isEmpty { _ = ServiceNotifier.notify(passed.joined(separator: "\n")) }
        }
    }
}
