import CSystemd
import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// The systemd journal as an input (`--journal`): the entries a sink filed there (`omjournal`) or HAProxy logged
/// to journald, read through sd-journal and handed to the scanner as the stored lines they were —
/// `SYSLOG_TIMESTAMP HOST IDENTIFIER[PID]: MESSAGE` — so that every report, filter and `sql` works on them.
/// Only the entries of the identifier (`SYSLOG_IDENTIFIER`, `journalctl -t`) are read, and `--since` is where
/// reading starts.
public struct JournalSelection: Sendable, Equatable {
    /// `journalctl -t`: the entries' SYSLOG_IDENTIFIER.
    public var identifier = "haproxy"
    /// `--journal-directory` (journalctl -D) and `--journal-file` (journalctl --file); neither: the local journal.
    public var directory: String?
    public var files: [String] = []

    public init() {}

    /// Where reading starts, in wall-clock time (the since filter, a little earlier: an entry's own date may
    /// come before its journal stamp).
    func open(since: WallTime?) throws -> OpaquePointer {
        var journal: OpaquePointer?
        var rc: Int32
        if let directory {
            rc = sd_journal_open_directory(&journal, directory, 0)
        } else if !files.isEmpty {
            var paths = files.map { strdup($0) } + [nil]
            defer { for p in paths { free(p) } }
            rc = paths.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress.map { base in
                    base.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                        sd_journal_open_files(&journal, $0, 0)
                    }
                } ?? -EINVAL
            }
        } else {
            rc = sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY))
        }
        guard rc >= 0, let journal else {
            throw InputError(path: directory ?? files.first ?? "journal", reason: "cannot open the journal: \(String(cString: strerror(-rc)))")
        }
        let match = "SYSLOG_IDENTIFIER=\(identifier)"
        _ = match.withCString { sd_journal_add_match(journal, $0, 0) }
        if let since {
            // The entry's own date is the line's; the journal's stamp comes later. A minute's margin.
            let seconds = (since.milliseconds - 60_000) / 1000
            let utc = seconds - Int64(CivilTime.localUTCOffset(atEpochSeconds: Int(seconds)))
            sd_journal_seek_realtime_usec(journal, UInt64(max(0, utc)) * 1_000_000)
        } else {
            sd_journal_seek_head(journal)
        }
        return journal
    }

    /// The entries as lines, in blocks of whole lines.
    func forEachBlock(since: WallTime?, _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws {
        let journal = try open(since: since)
        defer { sd_journal_close(journal) }
        var block: [UInt8] = []
        block.reserveCapacity(4 << 20)
        while true {
            let next = sd_journal_next(journal)
            if next < 0 { throw InputError(path: "journal", reason: String(cString: strerror(-next))) }
            if next == 0 { break }
            guard let message = Self.field(journal, "MESSAGE") else { continue }
            if let stamp = Self.field(journal, "SYSLOG_TIMESTAMP"), !stamp.isEmpty {
                block += stamp.last == 0x20 ? stamp.dropLast() : stamp[...]
            } else {
                var usec: UInt64 = 0
                sd_journal_get_realtime_usec(journal, &usec)
                block += Self.traditionalStamp(microseconds: usec)
            }
            block.append(0x20)
            block += Self.field(journal, "SYSLOG_HOSTNAME") ?? Self.field(journal, "_HOSTNAME") ?? Array("localhost".utf8)
            block.append(0x20)
            block += Array(identifier.utf8)
            if let pid = Self.field(journal, "SYSLOG_PID") ?? Self.field(journal, "_PID") {
                block.append(0x5B)
                block += pid
                block.append(0x5D)
            }
            block += [0x3A, 0x20]
            block += message.filter { $0 != 0x0A }
            block.append(0x0A)
            if block.count >= 4 << 20 {
                block.withUnsafeBufferPointer(body)
                block.removeAll(keepingCapacity: true)
            }
        }
        if !block.isEmpty { block.withUnsafeBufferPointer(body) }
    }

    /// `Nov 26 08:51:02` for a journal stamp, in local time.
    static func traditionalStamp(microseconds: UInt64) -> [UInt8] {
        let seconds = Int(microseconds / 1_000_000)
        let t = CivilTime(
            epochMicroseconds: Int64(microseconds),
            utcOffsetSeconds: CivilTime.localUTCOffset(atEpochSeconds: seconds))
        var out: [UInt8] = []
        out.appendMonthAbbreviation(t.month)
        out.append(0x20)
        out.appendSpacePadded2(t.day)
        out.append(0x20)
        out.appendClock(hour: t.hour, minute: t.minute, second: t.second)
        return out
    }

    /// A field's value (without `NAME=`), nil when the entry has none.
    static func field(_ journal: OpaquePointer, _ name: String) -> [UInt8]? {
        var data: UnsafeRawPointer?
        var length = 0
        guard sd_journal_get_data(journal, name, &data, &length) >= 0, let data else { return nil }
        let prefix = name.utf8.count + 1
        guard length >= prefix else { return nil }
        return Array(UnsafeRawBufferPointer(start: data + prefix, count: length - prefix))
    }
}

extension Scanner {
    /// A report over the journal's entries instead of files.
    public func run<A: LineAccumulator>(
        journal: JournalSelection, into: A.Type, configuration: A.Configuration
    ) -> (result: A, counts: ScanCounts, errors: [InputError]) {
        var result = A(configuration: configuration)
        result.begin(FileContext(path: "journal", modified: CivilTime.now()))
        var counts = ScanCounts()
        do {
            try journal.forEachBlock(since: filter.since) { scanBuffer($0, into: &result, counts: &counts) }
            return (result, counts, [])
        } catch let e as InputError {
            return (result, counts, [e])
        } catch {
            return (result, counts, [InputError(path: "journal", reason: "\(error)")])
        }
    }
}
