import CDatagrams
import CSystemd
import Foundation
import LogCore
import NIOConcurrencyHelpers
import NIOCore
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An input read by a thread of its own (the local socket, the kernel's log, the journal): stopped when the sink
/// stops.
protocol ThreadedInput: Sendable {
    func stop()
}

extension UnixSocketInput: ThreadedInput {}

/// A thread that runs `body` until `stop()`; `body` returns when `running` says false, within its own timeout.
final class InputThread: Sendable {
    private let running = NIOLockedValueBox(true)
    private let finished = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable (_ running: @Sendable () -> Bool) -> Void) {
        let running = self.running
        let finished = self.finished
        let thread = Thread {
            body { running.withLockedValue { $0 } }
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    func stop() {
        running.withLockedValue { $0 = false }
        finished.wait()
    }
}

/// imklog: the kernel's log (`/proc/kmsg` on Linux, as rsyslog 8.2302's imklog reads it, or `LogPath`), line by
/// line, each made a message by `KernelLogLine`. /proc/kmsg is a consuming read: after boot the first reader gets
/// what the ring buffer still holds, later ones only what nobody has read (nothing is repeated across restarts,
/// and nothing is kept on disk, as with rsyslogd).
final class KernelLogInput: ThreadedInput {
    let path: String
    private let fd: Int32
    private let thread: InputThread

    init(
        settings: KernelLogSettings, host: [UInt8], maxMessageSize: Int,
        deliver: @escaping @Sendable ([SyslogMessage]) -> Void
    ) throws {
        let fd = open(settings.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "open \(settings.path)") }
        if let level = settings.consoleLogLevel, tollgate_console_log_level(Int32(level)) != 0 {
            sinkLog("imklog: cannot set the console's log level to \(level): \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        path = settings.path
        let maker = KernelLogLine(settings: settings, host: host)
        thread = InputThread(name: "syslog-sink imklog") { running in
            var buffer = [UInt8](repeating: 0, count: max(maxMessageSize, 4096))
            var pending: [UInt8] = []
            while running() {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 200) > 0 else { continue }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 {
                    // A FIFO without a writer (LogPath in tests) reads as end of file: wait for the next one.
                    if n == 0 || errno != EAGAIN { usleep(200_000) }
                    continue
                }
                pending.append(contentsOf: buffer[..<n])
                let now = CivilTime.now()
                let boot = KernelLogInput.bootEpochMicroseconds()
                var messages: [SyslogMessage] = []
                var start = 0
                while let lf = pending[start...].firstIndex(of: 0x0A) {
                    let line = pending[start..<lf]
                    if !line.isEmpty, let m = maker.message(line, now: now, bootEpochMicroseconds: boot) {
                        messages.append(m)
                    }
                    start = lf + 1
                }
                pending.removeFirst(start)
                if pending.count >= maxMessageSize {
                    // A line as long as the buffer goes as it is (bsd.c), cut at the limit.
                    if let m = maker.message(pending[..<maxMessageSize], now: now, bootEpochMicroseconds: boot) {
                        messages.append(m)
                    }
                    pending.removeAll()
                }
                if !messages.isEmpty { deliver(messages) }
            }
        }
    }

    /// When the kernel's clock started, as wall-clock microseconds (realtime minus monotonic, as bsd.c).
    static func bootEpochMicroseconds() -> Int64 {
        var real = timespec()
        var mono = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return (Int64(real.tv_sec) - Int64(mono.tv_sec)) * 1_000_000 + (Int64(real.tv_nsec) - Int64(mono.tv_nsec)) / 1000
    }

    func stop() {
        thread.stop()
        close(fd)
    }
}

/// A journal entry made a message as rsyslog 8.2302's imjournal makes it (`readjournal`, `enqMsg`). No I/O: the
/// reader hands the entry's fields in.
///
/// MSG is MESSAGE (NULs as spaces, then the reception sanitising: trailing LF dropped, control characters
/// escaped); the severity is PRIORITY when it is one digit 0–7, the facility SYSLOG_FACILITY when it is 0–23
/// (else the defaults, notice and user); the tag is SYSLOG_IDENTIFIER (else _COMM, else `journal`) with the pid
/// (`UsePID`: SYSLOG_PID, else _PID) in brackets; the time is when journald received it (`__REALTIME_TIMESTAMP`);
/// the host is this machine (not `_HOSTNAME`).
struct JournalEntry {
    let settings: JournalInputSettings
    let options: SyslogParseOptions
    let host: [UInt8]

    private static let localIP = Array("127.0.0.1".utf8)

    func message(_ field: (String) -> [UInt8]?, realtimeMicroseconds: Int64) -> SyslogMessage {
        var text = field("MESSAGE") ?? []
        // rsyslog keeps at most maxMessageSize bytes of it (sd-journal returns uncompressed fields whole).
        if text.count > options.maxMessageSize { text.removeLast(text.count - options.maxMessageSize) }
        for i in text.indices where text[i] == 0 { text[i] = 0x20 }
        let raw = SyslogParser.sanitize(text, options: options)
        var severity = settings.defaultSeverity
        if let p = field("PRIORITY"), p.count == 1, (0x30...0x37).contains(p[0]) { severity = Int(p[0] - 0x30) }
        var facility = settings.defaultFacility
        if let f = field("SYSLOG_FACILITY"), (1...2).contains(f.count), f.allSatisfy({ (0x30...0x39).contains($0) }),
            let n = Int(String(decoding: f, as: UTF8.self)), n <= 23
        {
            facility = n
        }
        var tag = field("SYSLOG_IDENTIFIER") ?? field("_COMM") ?? Array("journal".utf8)
        let pid: [UInt8]?
        switch settings.usePID {
        case "syslog": pid = field("SYSLOG_PID")
        case "system": pid = field("_PID")
        default: pid = field("SYSLOG_PID") ?? field("_PID")
        }
        if let pid {
            tag.append(0x5B)
            tag.append(contentsOf: pid)
            tag.append(0x5D)
        }
        tag.append(0x3A)
        let seconds = Int(realtimeMicroseconds / 1_000_000)
        let time = SyslogTimestamp(
            CivilTime(
                epochMicroseconds: realtimeMicroseconds,
                utcOffsetSeconds: CivilTime.localUTCOffset(atEpochSeconds: seconds)))
        var message = SyslogMessage(
            raw: raw,
            priority: Priority(value: facility * 8 + severity) ?? Priority(facility: .user, severity: .notice),
            timestamp: time, receivedAt: time, hostname: host[...], fromHost: host, tag: tag[...], msg: raw[...])
        message.fromHostIP = JournalEntry.localIP
        return message
    }
}

/// imjournal: systemd's journal through libsystemd's sd-journal, entry by entry (`JournalEntry`). The position
/// is kept as rsyslogd keeps it: the cursor of the last entry read, alone on one line without a newline, in the
/// state file (written through a `.tmp` and a rename every `PersistStateInterval` entries and at stop). Without a
/// state file the whole journal is read, or only what comes from now on with `IgnorePreviousMessages`.
final class JournalInput: ThreadedInput {
    private let thread: InputThread

    init(
        settings: JournalInputSettings, stateFile: String?, options: SyslogParseOptions, host: [UInt8],
        deliver: @escaping @Sendable ([SyslogMessage]) -> Void
    ) throws {
        var opened: OpaquePointer?
        let rc = sd_journal_open(&opened, settings.remote ? 0 : Int32(SD_JOURNAL_LOCAL_ONLY))
        guard rc >= 0, let journal = opened else { throw IOError(errnoCode: -rc, reason: "sd_journal_open") }
        sd_journal_set_data_threshold(journal, options.maxMessageSize)
        let maker = JournalEntry(settings: settings, options: options, host: host)
        let box = JournalHandle(journal)
        JournalInput.position(journal, settings: settings, stateFile: stateFile)
        thread = InputThread(name: "syslog-sink imjournal") { running in
            let journal = box.journal
            var batch: [SyslogMessage] = []
            var sinceSaved = 0
            while running() {
                let next = sd_journal_next(journal)
                if next > 0 {
                    var usec: UInt64 = 0
                    sd_journal_get_realtime_usec(journal, &usec)
                    batch.append(
                        maker.message({ JournalInput.field(journal, $0) }, realtimeMicroseconds: Int64(usec)))
                    sinceSaved += 1
                    if batch.count < 256 { continue }
                }
                if !batch.isEmpty {
                    deliver(batch)
                    batch.removeAll()
                }
                if let stateFile, sinceSaved >= max(settings.persistStateInterval, 1) {
                    JournalInput.persist(journal, stateFile)
                    sinceSaved = 0
                }
                if next == 0 {
                    _ = sd_journal_wait(journal, 200_000)
                } else if next < 0 {
                    sinkLog("imjournal: cannot read the journal: \(String(cString: strerror(-next)))")
                    usleep(200_000)
                }
            }
            if !batch.isEmpty { deliver(batch) }
            if let stateFile { JournalInput.persist(journal, stateFile) }
            sd_journal_close(journal)
        }
    }

    /// Where reading starts: after the state file's cursor, at the end (IgnorePreviousMessages) or at the start.
    private static func position(_ journal: OpaquePointer, settings: JournalInputSettings, stateFile: String?) {
        if let stateFile, let text = TextFile.read(stateFile) {
            let cursor = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !cursor.isEmpty, sd_journal_seek_cursor(journal, cursor) >= 0, sd_journal_next(journal) > 0 {
                // On the entry read last: the loop's first `next` moves past it.
                var test: UnsafeMutablePointer<CChar>?
                if sd_journal_get_cursor(journal, &test) >= 0 {
                    free(test)
                    return
                }
            }
            sinkLog("imjournal: the state file \(stateFile) holds no valid cursor; reading from the "
                + (settings.ignorePreviousMessages ? "journal's end" : "journal's start"))
        } else if let stateFile {
            sinkLog("imjournal: no state file \(stateFile) yet; it will be created", severity: .notice)
        }
        if settings.ignorePreviousMessages {
            sd_journal_seek_tail(journal)
            sd_journal_previous(journal)
        } else {
            sd_journal_seek_head(journal)
        }
    }

    /// A field's value (without `NAME=`), nil when the entry has none.
    static func field(_ journal: OpaquePointer, _ name: String) -> [UInt8]? {
        var data: UnsafeRawPointer?
        var length = 0
        guard sd_journal_get_data(journal, name, &data, &length) >= 0, let data else { return nil }
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        let prefix = name.utf8.count + 1
        guard length >= prefix else { return nil }
        return Array(bytes[prefix...])
    }

    /// Writes the current cursor to `stateFile` (through `.tmp` and a rename, so a crash leaves the old one).
    static func persist(_ journal: OpaquePointer, _ stateFile: String) {
        var cursor: UnsafeMutablePointer<CChar>?
        guard sd_journal_get_cursor(journal, &cursor) >= 0, let cursor else { return }
        defer { free(cursor) }
        let temporary = stateFile + ".tmp"
        guard let f = fopen(temporary, "wb") else {
            sinkLog("imjournal: cannot write the state file \(temporary): \(String(cString: strerror(errno)))")
            return
        }
        fputs(cursor, f)
        fclose(f)
        if rename(temporary, stateFile) != 0 {
            sinkLog("imjournal: cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
    }

    func stop() { thread.stop() }
}

/// The sd_journal handle, used by its reading thread only.
private final class JournalHandle: @unchecked Sendable {
    let journal: OpaquePointer
    init(_ journal: OpaquePointer) { self.journal = journal }
}
