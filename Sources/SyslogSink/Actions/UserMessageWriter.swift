import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// rsyslog's omusrmsg (`:omusrmsg:*`, `:omusrmsg:root,admin`, `action(type="omusrmsg" users=…)`): each message is
/// written to the terminal of every login the system records now (utmp), of every user (`*`, a wall) or of those
/// named. As rsyslogd: the login records are read again for each message, only user processes count (not
/// `LOGIN`), a terminal is opened without becoming the controlling one and without blocking, one that would block
/// (a user pressed Ctrl-S) or that its owner made unwritable (`mesg n`) is passed over, and nothing is retried.
final class UserMessageWriter {
    /// The users written to; nil: all (wall).
    let users: [String]?
    /// Terminals written to, and those passed over (could not be opened, not writable, or would block).
    private(set) var written = 0
    private(set) var skipped = 0

    /// The C library's walk of the login records keeps its place in one static buffer: one walk at a time in the
    /// process (each input's rules run on their own thread).
    private static let loginRecords = Mutex(())

    init(users: [String]?) { self.users = users }

    func write(_ bytes: [UInt8]) {
        for terminal in terminals() {
            let fd = open(terminal, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else {
                skipped += 1
                continue
            }
            var st = stat()
            if fstat(fd, &st) == 0 && st.st_mode & S_IWUSR != 0,
                bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count
            {
                written += 1
            } else {
                skipped += 1
            }
            close(fd)
        }
    }

    /// The terminals (`/dev/pts/3`) of the logins the message goes to, from the login records as they are now.
    func terminals() -> [String] {
        Self.loginRecords.withLock { _ in
            var found: [String] = []
            setutxent()
            defer { endutxent() }
            while let entry = getutxent() {
                let record = entry.pointee
                guard record.ut_type == USER_PROCESS else { continue }
                let user = Self.text(record.ut_user)
                guard !user.isEmpty, user != "LOGIN" else { continue }
                if let users, !users.contains(user) { continue }
                let line = Self.text(record.ut_line)
                // A terminal under /dev, never a path out of it.
                guard !line.isEmpty, !line.contains("..") else { continue }
                found.append("/dev/" + line)
            }
            return found
        }
    }

    /// A fixed-size C character field (not always terminated) as text.
    private static func text<Field>(_ field: Field) -> String {
        withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
