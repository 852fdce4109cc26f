import Foundation
import LogCore
import NIOCore
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// imfile: text files followed by name (`File` may be a glob, folders too), read by a thread of their own that
/// looks at them every `pollingInterval`.
///
/// - Where reading starts: the offset in the file's state file (rsyslog's `imfile-state:<inode>` in the work
///   directory, the same JSON, so a restart neither repeats nor skips, and rsyslogd's own state files are
///   taken over); without one, the start (the end with `freshStartTail`, for files there at start).
/// - Rotation (a new file under the name): the old one is read to its end first, then the new one from its start.
/// - Truncation: with `reopenOnTruncate` the file is read again from its start; without it (rsyslog's default)
///   reading goes on once the file has grown past the old offset, as rsyslogd does.
/// - A file that goes away is read to its end, closed, and its state file removed (`deleteStateOnFileDelete`).
final class FileInput: ThreadedInput {
    private let thread: InputThread

    /// `pattern` and `stateDirectory` are the paths to use (already under --root, whose folder is `root`: the
    /// metadata names files as configured).
    init(
        settings: FileInputSettings, pattern: String, stateDirectory: String, root: String?, host: [UInt8],
        options: SyslogParseOptions, deliver: @escaping @Sendable ([SyslogMessage]) -> Void
    ) {
        thread = InputThread(name: "syslog-sink imfile \(settings.file)") { running in
            var followed: [String: FollowedFile] = [:]
            var first = true
            let interval = max(settings.pollingInterval, 0.05)
            while running() {
                var messages: [SyslogMessage] = []
                let now = SyslogTimestamp.now()
                func emit(_ texts: [FileMessageAssembler.Message], _ file: FollowedFile) {
                    messages += FileInput.messages(texts, file, settings, root, host, options, now)
                }
                for path in RsyslogConfigParser.expandInclude(pattern) where followed[path] == nil {
                    if settings.ignoreOlderThan > 0, FollowedFile.age(path) > Double(settings.ignoreOlderThan) {
                        continue
                    }
                    if let file = FollowedFile(
                        path: path, settings: settings, stateDirectory: stateDirectory, atStart: first)
                    {
                        followed[path] = file
                    }
                }
                first = false
                for (path, file) in followed {
                    emit(file.readNew(), file)
                    switch file.checkName() {
                    case .same: break
                    case .replaced:
                        // Rotation: what the old file still held is read above; the new one starts at 0.
                        file.close(deleteState: false)
                        followed[path] = FollowedFile(
                            path: path, settings: settings, stateDirectory: stateDirectory, atStart: false)
                    case .gone:
                        file.close(deleteState: settings.deleteStateOnFileDelete)
                        followed[path] = nil
                    }
                    if settings.readTimeout > 0, let pending = file.timedOut(after: settings.readTimeout) {
                        emit([pending], file)
                    }
                }
                if !messages.isEmpty { deliver(messages) }
                for file in followed.values { file.persistIfDue(afterBatch: !messages.isEmpty) }
                usleep(useconds_t(interval * 1_000_000))
            }
            // At stop, what the files still hold is read and handed on before their state is written.
            var last: [SyslogMessage] = []
            for file in followed.values {
                last += FileInput.messages(file.readNew(), file, settings, root, host, options, SyslogTimestamp.now())
                file.close(deleteState: false)
            }
            if !last.isEmpty { deliver(last) }
        }
    }

    /// The messages of `texts` read from `file`.
    fileprivate static func messages(
        _ texts: [FileMessageAssembler.Message], _ file: FollowedFile, _ settings: FileInputSettings, _ root: String?,
        _ host: [UInt8], _ options: SyslogParseOptions, _ now: SyslogTimestamp
    ) -> [SyslogMessage] {
        var name = file.path
        if let root, name.hasPrefix(root) { name.removeFirst(root.count) }
        var out: [SyslogMessage] = []
        for (text, offset) in texts {
            for piece in FileMessageAssembler.pieces(text, settings: settings, maxSize: options.maxMessageSize) {
                out.append(
                    FileMessageAssembler.message(
                        piece, settings: settings, host: host, options: options, now: now, file: name, offset: offset))
            }
        }
        return out
    }

    func stop() { thread.stop() }
}

/// One file being followed: its descriptor, identity, offset and unfinished line or message, and its state file.
fileprivate final class FollowedFile {
    enum NameCheck { case same, replaced, gone }

    let path: String
    private let fd: Int32
    private let inode: UInt64
    private let device: UInt64
    private var assembler: FileMessageAssembler
    /// Where the next read starts.
    private var offset: Int64 { assembler.position }
    private let settings: FileInputSettings
    private let stateFile: String
    private var linesSinceSaved = 0
    private var lastGrowth = Date()
    private var goneSince: Date?

    init?(path: String, settings: FileInputSettings, stateDirectory: String, atStart: Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            return nil
        }
        self.path = path
        self.fd = fd
        self.settings = settings
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
        stateFile = stateDirectory + "/imfile-state:\(st.st_ino)"
        if let state = FollowedFile.loadState(stateFile) ?? FollowedFile.loadRsyslogState(stateDirectory, st.st_ino) {
            assembler = FileMessageAssembler(
                settings: settings, offset: state.offset, partialLine: state.partialLine,
                pendingMessage: state.pendingMessage)
        } else {
            assembler = FileMessageAssembler(
                settings: settings, offset: settings.freshStartTail && atStart ? Int64(st.st_size) : 0,
                partialLine: [], pendingMessage: nil)
        }
    }

    /// Reads what was added since the last look; the messages it completes.
    func readNew() -> [FileMessageAssembler.Message] {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return [] }
        if Int64(st.st_size) < offset && settings.reopenOnTruncate {
            sinkLog("imfile: file '\(path)': truncation detected - re-start reading from beginning", severity: .notice)
            assembler = FileMessageAssembler(settings: settings)
        }
        var out: [FileMessageAssembler.Message] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard n > 0 else { break }
            let messages = assembler.feed(buffer[..<n])
            linesSinceSaved += messages.count
            out.append(contentsOf: messages)
            lastGrowth = Date()
        }
        return out
    }

    /// Whether the name still leads to this file.
    func checkName() -> NameCheck {
        var st = stat()
        if stat(path, &st) != 0 {
            // As rsyslog, a file that went away is given a moment (a rotation in two steps) before it is let go.
            if goneSince == nil { goneSince = Date() }
            return Date().timeIntervalSince(goneSince ?? Date()) > 5 ? .gone : .same
        }
        goneSince = nil
        return UInt64(st.st_ino) == inode && UInt64(st.st_dev) == device ? .same : .replaced
    }

    /// The unfinished multi-line message when nothing was added for `seconds`.
    func timedOut(after seconds: Int) -> FileMessageAssembler.Message? {
        guard assembler.pendingMessage != nil, Date().timeIntervalSince(lastGrowth) >= Double(seconds) else {
            return nil
        }
        return assembler.flushPending()
    }

    func persistIfDue(afterBatch: Bool) {
        if settings.persistStateInterval > 0 && linesSinceSaved >= settings.persistStateInterval
            || settings.persistStateAfterSubmission && afterBatch && linesSinceSaved > 0
        {
            persist()
        }
    }

    /// Seconds since `path` was last changed (0 when it cannot be seen).
    static func age(_ path: String) -> Double {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        return Date().timeIntervalSince1970 - Double(st.st_mtim.tv_sec)
    }

    /// Writes the state file as rsyslog's imfile writes it (json-c's spaced form), so either daemon can go on from
    /// it.
    func persist() {
        linesSinceSaved = 0
        var json = "{ \"filename\": \(FollowedFile.jsonString(path)), \"prev_was_nl\": \(assembler.partialLine.isEmpty ? 1 : 0), "
        json += "\"curr_offs\": \(offset), \"strt_offs\": \(offset - Int64(assembler.partialLine.count))"
        if !assembler.partialLine.isEmpty {
            json += ", \"prev_line_segment\": \(FollowedFile.jsonString(String(decoding: assembler.partialLine, as: UTF8.self)))"
        }
        if let pending = assembler.pendingMessage {
            json += ", \"prev_msg_segment\": \(FollowedFile.jsonString(String(decoding: pending, as: UTF8.self)))"
        }
        json += " }"
        let fd = open(stateFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            sinkLog("imfile: cannot write the state file \(stateFile): \(String(cString: strerror(errno)))")
            return
        }
        _ = json.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        Glibc.close(fd)
    }

    func close(deleteState: Bool) {
        if deleteState {
            unlink(stateFile)
        } else {
            persist()
        }
        Glibc.close(fd)
    }

    struct State {
        var offset: Int64
        var partialLine: [UInt8]
        var pendingMessage: [UInt8]?
    }

    static func loadState(_ path: String) -> State? {
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let offset = (object["curr_offs"] as? NSNumber)?.int64Value
        else { return nil }
        return State(
            offset: offset, partialLine: Array(((object["prev_line_segment"] as? String) ?? "").utf8),
            pendingMessage: (object["prev_msg_segment"] as? String).map { Array($0.utf8) })
    }

    /// rsyslogd's name once a file has 512 bytes: `imfile-state:<inode>:<hash of its start>`.
    static func loadRsyslogState(_ directory: String, _ inode: ino_t) -> State? {
        for path in RsyslogConfigParser.expandInclude(directory + "/imfile-state:\(inode):*") {
            if let state = loadState(path) { return state }
        }
        return nil
    }

    /// A JSON string as json-c writes it (`/` escaped too).
    static func jsonString(_ text: String) -> String { JSONText.quoted(text, escapingSlash: true) }
}
