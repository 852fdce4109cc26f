import CDatagrams
import Foundation
import LogCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What HAProxy does to its process once it listens, in its order: chroot, then give up root for `user`/`group`,
/// then (daemon) leave the terminal.
enum ProcessSetup {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Writes this process's pid to `path` (replacing what was there, as HAProxy: the file then names the newest
    /// process); false when it cannot be created, which HAProxy refuses to start with.
    static func writePidFile(_ path: String) -> Bool {
        unlink(path)
        guard let f = fopen(path, "w") else { return false }
        let written = fputs("\(getpid())\n", f) >= 0
        return fclose(f) == 0 && written
    }

    /// Removes the pidfile at exit only if it still names this process: after a reload it names the new one, which
    /// the next `-sf $(cat pidfile)` needs.
    static func removePidFileIfOurs(_ path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) == getpid()
        else { return }
        unlink(path)
    }

    /// `--root DIR` puts absolute paths of the configuration (pidfile, chroot) under DIR, for tests and the demo.
    static func mapped(_ path: String?, root: String?) -> String? { path.map { underRoot($0, root) } }

    /// The ids of `user` and `group` (names, or numbers as `uid`/`gid` take them). Without `group`, the user's own
    /// group (HAProxy would keep root's: never wanted).
    static func ids(user: String?, group: String?) throws -> (uid: uid_t, gid: gid_t, name: String)? {
        guard user != nil || group != nil else { return nil }
        var uid = getuid()
        var gid = getgid()
        var name = ""
        if let user {
            if let entry = Int(user).flatMap({ getpwuid(uid_t($0)) }) ?? getpwnam(user) {
                uid = entry.pointee.pw_uid
                gid = entry.pointee.pw_gid
                name = String(cString: entry.pointee.pw_name)
            } else if let number = UInt32(user) {
                uid = number
            } else {
                throw Failure(description: "[ALERT] config : unknown user '\(user)'.")
            }
        }
        if let group {
            if let entry = Int(group).flatMap({ getgrgid(gid_t($0)) }) ?? getgrnam(group) {
                gid = entry.pointee.gr_gid
            } else if let number = UInt32(group) {
                gid = number
            } else {
                throw Failure(description: "[ALERT] config : unknown group '\(group)'.")
            }
        }
        return (uid, gid, name)
    }

    /// chroot into `directory`, then take the ids: supplementary groups, group, user (the process's threads all
    /// follow, glibc sees to it).
    static func confine(chroot directory: String?, ids: (uid: uid_t, gid: gid_t, name: String)?) throws {
        if let directory {
            guard chroot(directory) == 0, chdir("/") == 0 else {
                throw Failure(description: "[ALERT] cannot chroot(\(directory)): \(String(cString: strerror(errno))).")
            }
        }
        guard let ids else { return }
        let groups =
            ids.name.isEmpty ? setgroups(1, [ids.gid]) : initgroups(ids.name, ids.gid)
        guard groups == 0 || getuid() != 0 else {
            throw Failure(
                description: "[ALERT] cannot set the supplementary groups: \(String(cString: strerror(errno))).")
        }
        guard setgid(ids.gid) == 0 else {
            throw Failure(description: "[ALERT] cannot set gid \(ids.gid): \(String(cString: strerror(errno))).")
        }
        guard setuid(ids.uid) == 0 else {
            throw Failure(description: "[ALERT] cannot set uid \(ids.uid): \(String(cString: strerror(errno))).")
        }
    }

    /// The environment variable that tells the daemon copy where to report that it listens.
    static let readyVariable = "TOLLGATE_PROXY_READY_FD"

    /// Whether this process is the daemon copy started by `detach`.
    static var isDaemonCopy: Bool { ProcessInfo.processInfo.environment[readyVariable] != nil }

    /// `-D` / `daemon`: starts this program again, without `-D`, in a session of its own, and waits until that copy
    /// listens (exit status 0) or fails (1; its alerts are on this process's standard error). A fresh program
    /// rather than fork(): the event loops' threads would not survive a fork.
    static func detach() -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return 1 }
        let arguments = CommandLine.arguments.filter { $0 != "-D" }
        var environment = ProcessInfo.processInfo.environment
        // The copy gets the pipe as descriptor 3 and nothing else of this process's (an inherited descriptor can
        // be how the caller watches this process end: Foundation's Process does so).
        environment[readyVariable] = "3"
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (glibc 2.26+; the macro is not imported): a session of its own, no controlling terminal.
        posix_spawnattr_setflags(&attributes, 0x80)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 3)
        // Nothing else of this process's: closed at the spawn, before the copy's runtime opens its own descriptors.
        _ = tollgate_spawn_close_from(&actions, 4)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, "/proc/self/exe", &actions, &attributes, argv, envp)
        close(fds[1])
        guard spawned == 0 else {
            report("[ALERT] cannot start the daemon: \(String(cString: strerror(spawned))).")
            return 1
        }
        var byte: UInt8 = 0
        let got = read(fds[0], &byte, 1)
        close(fds[0])
        if got == 1 { return 0 }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        return 1
    }

    /// In the daemon copy, once it listens: the waiting parent may go, and the terminal is let go (standard
    /// input, output and error on /dev/null, opened by the caller before any chroot).
    static func reportReady(devNull: Int32) {
        guard let text = ProcessInfo.processInfo.environment[readyVariable], let fd = Int32(text) else { return }
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
        close(fd)
        if devNull >= 0 {
            for target: Int32 in [0, 1, 2] { dup2(devNull, target) }
            close(devNull)
        }
    }
}
