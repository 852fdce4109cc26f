import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// omusrmsg beside rsyslogd, as Debian's and RHEL's stock files use it (`*.emerg :omusrmsg:*`): a login recorded in
/// the system's login records (utmp) on a pseudo-terminal the test holds; logger sends each daemon in turn an
/// emergency (the wall, rsyslog's banner) and a message for that user by name; what each daemon writes to the
/// terminal is the same bytes (the time aside), and a message for another user reaches no terminal.
@Suite("omusrmsg beside rsyslogd", .serialized)
struct UserMessageInteropTests {
    /// A pseudo-terminal: its master side, where what is written to the terminal is read, and its name under /dev
    /// (`pts/5`).
    final class Terminal {
        let master: Int32
        let line: String

        init() throws {
            // /dev/ptmx, unlocked, and its number (Linux's TIOCSPTLCK and TIOCGPTN: the C library's posix_openpt,
            // unlockpt and ptsname, which Swift does not see).
            master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
            var unlock: Int32 = 0
            var number: UInt32 = 0
            guard master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
                throw PeerFailed(description: "no pseudo-terminal: errno \(errno)")
            }
            line = "pts/\(number)"
            // Non-blocking reads of what arrives.
            _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        }

        deinit { close(master) }

        /// What was written to the terminal within `seconds` (until it has been quiet for a moment).
        func read(seconds: Double = 5) -> [UInt8] {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            let deadline = Date().addingTimeInterval(seconds)
            var quietSince: Date?
            while Date() < deadline {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
                if n > 0 {
                    out += buffer[..<n]
                    quietSince = nil
                } else {
                    if !out.isEmpty {
                        if let since = quietSince, Date().timeIntervalSince(since) > 0.3 { break }
                        if quietSince == nil { quietSince = Date() }
                    }
                    usleep(20_000)
                }
            }
            return out
        }
    }

    /// A login of `user` on `line` in the system's login records, as login(1) writes it; `end()` marks it ended.
    struct Login {
        let user: String
        let line: String
        /// The records file, made for the test when the system had none (a container), removed by `end()`.
        let madeRecords: Bool

        init(user: String, line: String) throws {
            self.user = user
            self.line = line
            madeRecords = access("/run/utmp", F_OK) != 0
            if madeRecords {
                let fd = open("/run/utmp", O_CREAT | O_WRONLY | O_CLOEXEC, 0o664)
                guard fd >= 0 else { throw PeerFailed(description: "cannot create /run/utmp: errno \(errno)") }
                close(fd)
            }
            try write(type: Int16(USER_PROCESS))
        }

        func end() {
            try? write(type: Int16(DEAD_PROCESS))
            if madeRecords { unlink("/run/utmp") }
        }

        private func write(type: Int16) throws {
            var record = utmpx()
            record.ut_type = type
            record.ut_pid = getpid()
            withUnsafeMutableBytes(of: &record.ut_line) { copy(line, into: $0) }
            withUnsafeMutableBytes(of: &record.ut_id) { copy(String(line.suffix(4)), into: $0) }
            withUnsafeMutableBytes(of: &record.ut_user) { copy(type == Int16(USER_PROCESS) ? user : "", into: $0) }
            var now = timeval()
            gettimeofday(&now, nil)
            record.ut_tv.tv_sec = Int32(truncatingIfNeeded: now.tv_sec)
            record.ut_tv.tv_usec = Int32(truncatingIfNeeded: now.tv_usec)
            setutxent()
            defer { endutxent() }
            guard pututxline(&record) != nil else {
                throw PeerFailed(description: "cannot record the login: errno \(errno)")
            }
        }

        private func copy(_ text: String, into field: UnsafeMutableRawBufferPointer) {
            for (i, byte) in text.utf8.prefix(field.count).enumerated() { field[i] = byte }
        }
    }

    /// rsyslog's `%timegenerated%` (`Dec  7 16:04:05`), which differs between the two runs, written `TIME`.
    static func withoutTime(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).replacingOccurrences(
            of: #"[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}"#, with: "TIME", options: .regularExpression)
    }

    @Test func wallAndNamedUsersAsRsyslogdWritesThem() throws {
        try #require(getuid() == 0, "recording a login takes root (CI runs as root)")
        let terminal = try Terminal()
        let user = "tgwall\(getpid() % 10000)"
        let login = try Login(user: user, line: terminal.line)
        defer { login.end() }
        let logger = try Peers.find("logger")
        let dir = try TemporaryDirectory(prefix: "omusrmsg")
        var seen: [String: [String]] = [:]
        for who in ["rsyslogd", "sink"] {
            let port = try Peers.freePort(udp: true)
            try """
                module(load="imudp")
                input(type="imudp" address="127.0.0.1" port="\(port)")
                *.emerg :omusrmsg:*
                local3.info :omusrmsg:nobody, \(user)
                local4.info :omusrmsg:nobody
                local5.info action(type="omusrmsg" users="\(user)" template="RSYSLOG_TraditionalFileFormat")
                *.* \(dir.file("\(who).log"))

                """.write(toFile: dir.file("\(who).conf"), atomically: true, encoding: .utf8)
            let peer =
                who == "rsyslogd"
                ? try RunningPeer(
                    try Peers.find("rsyslogd"), ["-n", "-f", dir.file("\(who).conf"), "-i", dir.file("rsyslogd.pid")],
                    logPath: dir.file("\(who).out"))
                : try RunningPeer(
                    try Products.path("syslog-sink"), ["-n", "-f", dir.file("\(who).conf")], logPath: dir.file("\(who).out"))
            defer { peer.stop() }
            // Up once a probe (for no terminal) reaches its file.
            #expect(
                Peers.waitUntil(seconds: 15) {
                    _ = try? Peers.run(logger, ["-d", "-n", "127.0.0.1", "-P", "\(port)", "-p", "local7.info", "probe"])
                    usleep(100_000)
                    return ((try? String(contentsOfFile: dir.file("\(who).log"), encoding: .utf8)) ?? "").contains("probe")
                }, "\(who): \(peer.output)")
            var lines: [String] = []
            for (priority, text) in [
                ("user.emerg", "the disk is on fire"), ("local3.info", "for you by name"),
                ("local4.info", "for someone else"), ("local5.info", "with a template"),
            ] {
                let sent = try Peers.run(
                    logger, ["-d", "-n", "127.0.0.1", "-P", "\(port)", "--rfc3164", "-t", "tgtest", "-p", priority, text])
                #expect(sent.status == 0)
                lines.append("\(priority): " + Self.withoutTime(terminal.read(seconds: priority == "local4.info" ? 1 : 5)))
            }
            seen[who] = lines
        }
        let ours = seen["sink"] ?? []
        #expect(ours == seen["rsyslogd"] ?? [], "\(ours)\n--- rsyslogd:\n\(seen["rsyslogd"] ?? [])")
        #expect(ours.first?.contains("Message from syslogd@") == true && ours.first?.contains("the disk is on fire") == true)
        #expect(ours.count == 4 && ours[2] == "local4.info: ", "a message for another user reaches no terminal: \(ours)")
    }
}
