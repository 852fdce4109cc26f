import CDatagrams
import Foundation
import Synchronization

/// `option external-check` as HAProxy 2.6 runs it (its extcheck.c): `external-check command` started for each check
/// with four arguments — the section's first listener's address and port (`NOT_USED` for a backend), the server's
/// address and port — and an environment of exactly `PATH` (`external-check path`, else empty) and the
/// `HAPROXY_*` variables. Exit status 0 passes (`External check passed`), another fails (`External check error`),
/// and a program still running after `inter` is sent SIGTERM (`External check timeout`). The values are made
/// here, without I/O; `run` starts the program.
struct ExternalCheck: Sendable {
    let command: String
    let path: String
    let proxyName: String
    let proxyID: Int
    /// The section's first listener (nil: a backend, `NOT_USED`).
    let listener: (host: String, port: Int)?
    /// `tcp`, or `h1` in HTTP mode.
    let proto: String

    /// The server a check is for: its name, its number in the backend (from 1), its address and port, `maxconn`
    /// (0: none), the sessions on it now, whether it speaks TLS.
    struct Target: Sendable {
        var name: String
        var id: Int
        var address: String
        var port: Int
        var maxconn = 0
        var connections = 0
        var ssl = false
    }

    /// The program's arguments after its name.
    func arguments(_ target: Target) -> [String] {
        [listener?.host ?? "NOT_USED", listener.map { String($0.port) } ?? "NOT_USED", target.address, String(target.port)]
    }

    /// Its whole environment.
    func environment(_ target: Target) -> [String: String] {
        let args = arguments(target)
        return [
            "PATH": path,
            "HAPROXY_PROXY_NAME": proxyName, "HAPROXY_PROXY_ID": String(proxyID),
            // Empty without a listener, though the arguments say NOT_USED (HAProxy 2.6's environment, as seen).
            "HAPROXY_PROXY_ADDR": listener == nil ? "" : args[0], "HAPROXY_PROXY_PORT": listener == nil ? "" : args[1],
            "HAPROXY_SERVER_NAME": target.name, "HAPROXY_SERVER_ID": String(target.id),
            "HAPROXY_SERVER_ADDR": target.address, "HAPROXY_SERVER_PORT": args[3],
            "HAPROXY_SERVER_MAXCONN": String(target.maxconn), "HAPROXY_SERVER_CURCONN": String(target.connections),
            "HAPROXY_SERVER_SSL": target.ssl ? "1" : "0", "HAPROXY_SERVER_PROTO": proto,
        ]
    }

    /// HAProxy's alert when it cannot fork (no `insecure-fork-wanted`), on standard error.
    static func sayForkRefused() {
        FileHandle.standardError.write(
            Data(
                ("[ALERT] Failed to fork process for external health check (likely caused by missing "
                    + "'insecure-fork-wanted'): Resource temporarily unavailable. Aborting.\n").utf8))
    }

    /// The program to start: a name without `/` is looked up in `path` (execvp's way); nil when none is found.
    func executable() -> String? {
        if command.contains("/") { return command }
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + command
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// What a program's end means: its exit status, or the signal that ended it (`code` -1 then, as HAProxy keeps).
    static func result(exitStatus: Int32, signalled: Bool) -> HealthChecker.CheckResult {
        let passed = !signalled && exitStatus == 0
        return HealthChecker.CheckResult(
            passed: passed, description: passed ? "External check passed" : "External check error",
            code: signalled ? -1 : Int(exitStatus))
    }

    /// Starts the program; `done` gets its result once it ends, or after `timeout` (it is then sent SIGTERM). A
    /// thread of its own waits for it, so a busy event loop or dispatch pool cannot make a check late.
    func run(
        _ target: Target, timeout: Double, done: @escaping @Sendable (HealthChecker.CheckResult) -> Void
    ) {
        guard let executable = executable(),
            let pid = ExternalCheck.spawn(
                executable, arguments: [command] + arguments(target),
                environment: environment(target).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        else {
            // execvp fails in HAProxy's child, which exits -1 (255).
            return done(ExternalCheck.result(exitStatus: 255, signalled: false))
        }
        let finished = Once()
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            // WIFSIGNALED / WEXITSTATUS, spelled out (the C macros are not imported).
            let signalled = status & 0x7F != 0 && status & 0x7F != 0x7F
            finished.run { done(ExternalCheck.result(exitStatus: (status >> 8) & 0xFF, signalled: signalled)) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            finished.run {
                kill(pid, SIGTERM)
                done(HealthChecker.CheckResult(passed: false, description: "External check timeout"))
            }
        }
    }

    /// posix_spawn with exactly `environment`, standard input, output and error on /dev/null and every other
    /// descriptor closed in the child; the child's pid, nil when it could not be started.
    static func spawn(_ path: String, arguments: [String], environment: [String]) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in 0...2 {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        _ = tollgate_spawn_close_from(&actions, 3)
        func cStrings(_ strings: [String]) -> [UnsafeMutablePointer<CChar>?] { strings.map { strdup($0) } + [nil] }
        let argv = cStrings(arguments)
        let envp = cStrings(environment)
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv, envp)
        return result == 0 ? pid : nil
    }

    /// Runs its body once, whichever comes first (the program's end, the timeout).
    final class Once: Sendable {
        private let done = Mutex(false)
        func run(_ body: () -> Void) {
            let first = done.withLock { done in
                defer { done = true }
                return !done
            }
            if first { body() }
        }
    }
}
