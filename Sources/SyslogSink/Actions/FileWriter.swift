import LogCore
import Seal
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One output file as omfile keeps it: opened lazily on the first line (directories created as needed, with
/// their modes), written through a buffer that is flushed at the end of each batch, closed on HUP so that the
/// next line reopens the path (logrotate's postrotate).
final class FileWriter {
    let path: String
    let createMode: mode_t
    let dirCreateMode: mode_t
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private(set) var written = 0
    /// Failed opens and writes (each retry that fails counts).
    private(set) var failed = 0
    /// Lines refused because `maximumHeld` bytes were already waiting for a disk that keeps failing.
    private(set) var dropped = 0
    /// The last error, for the sink's own log.
    private(set) var lastError: String?
    /// While writes fail: when (monotonic nanoseconds) the next attempt may be made, and the failures since the
    /// last success. Lines keep arriving into the buffer meanwhile.
    private var retryAt: UInt64?
    private var failuresInARow = 0

    /// What is kept for a failing file before new lines are refused (and counted).
    static let maximumHeld = 64 << 20

    let ownership: FileOwnership
    /// Keeps the seal sidecar when the file is sealed: told of every byte written.
    private let sealer: Sealer?

    init(
        path: String, createMode: UInt16, dirCreateMode: UInt16, ownership: FileOwnership = FileOwnership(),
        sealer: Sealer? = nil
    ) {
        self.path = path
        self.sealer = sealer
        self.createMode = mode_t(createMode)
        self.dirCreateMode = mode_t(dirCreateMode)
        self.ownership = ownership
        buffer.reserveCapacity(64 << 10)
    }

    deinit {
        flush()
        closeSeal()
        if fd >= 0 { close(fd) }
    }

    /// The seal's last checkpoint (at stop): everything written is covered.
    func closeSeal() {
        sealer?.close()
        reportSealProblems()
    }

    private func reportSealProblems() {
        for problem in sealer?.takeProblems() ?? [] { sinkLog(problem) }
        // Each checkpoint also leaves through the rules (a central collector keeps what the host cannot rewrite).
        for anchor in sealer?.takeAnchors() ?? [] { sinkLog(anchor, severity: .notice) }
    }

    func append(_ line: [UInt8]) {
        guard holds() else { return }
        buffer.append(contentsOf: line)
        if buffer.count >= 64 << 10 && retryAt == nil { flush() }
    }

    /// Renders a line straight into the buffer (no intermediate array).
    func append(_ message: SyslogMessage, as template: OutputTemplate) {
        guard holds() else { return }
        template.render(message, into: &buffer)
        if buffer.count >= 64 << 10 && retryAt == nil { flush() }
    }

    /// The file's size limit (`$outchannel`, `rotation.sizeLimit`), checked before each write: at the limit the
    /// file is closed and the command run; when the file has not shrunk below the limit after it, the file takes
    /// no more lines (counted as dropped), as rsyslog disables it.
    var sizeLimit: FileSizeLimit?
    private var disabledBySize = false

    /// Before a write: the size limit's turn; false when the file takes no more.
    private func withinSizeLimit() -> Bool {
        guard let limit = sizeLimit else { return true }
        if disabledBySize { return false }
        var st = stat()
        guard fd >= 0, fstat(fd, &st) == 0, Int(st.st_size) >= limit.bytes else { return true }
        close(fd)
        fd = -1
        if !limit.command.isEmpty { _ = ProgramAction.runAndWait(limit.command) }
        if stat(path, &st) == 0 && Int(st.st_size) >= limit.bytes {
            sinkLog("omfile: file size limit cmd for file '\(path)' did not resolve the situation: the file takes no more lines")
            disabledBySize = true
            return false
        }
        return true
    }

    /// At stop: one last attempt, then what still cannot be written is counted (`lost-at-stop`) and described
    /// (nil when everything went out).
    func finalFlush() -> String? {
        retryAt = nil
        flush()
        guard !buffer.isEmpty else { return nil }
        let lines = buffer.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
        lostAtStop += lines
        defer { buffer.removeAll() }  // counted once
        return "\(path): \(lines) line\(lines == 1 ? "" : "s") (\(buffer.count) bytes) could not be written before the "
            + "stop and are lost" + (lastError.map { ": \($0)" } ?? "")
    }

    /// Whether writes are failing now (the file is retried every second): a suspended action, for failover.
    var isFailing: Bool { retryAt != nil || (fd < 0 && failed > 0 && !buffer.isEmpty) }

    /// Lines still held when the sink stopped (see `finalFlush`).
    private(set) var lostAtStop = 0

    /// Whether another line can be kept: false (and counted) once `maximumHeld` bytes wait for a failing disk.
    private func holds() -> Bool {
        if buffer.count < FileWriter.maximumHeld { return true }
        if dropped == 0 {
            sinkLog("omfile: \(path): \(buffer.count) bytes held while writes fail; new lines are dropped and counted")
        }
        dropped += 1
        return false
    }

    /// Writes what is buffered. On failure (disk full, I/O error, cannot open) the bytes are kept, the failure
    /// is counted and logged once, and the next attempt waits a second: nothing accepted is lost while the disk
    /// is full, and a failing disk costs no system call per line.
    func flush() {
        guard !buffer.isEmpty else {
            // The once-a-second tick: a sealed file gets its checkpoint even when no new line comes (and the
            // anchors of the checkpoints made since leave).
            sealer?.checkpoint(force: false)
            reportSealProblems()
            return
        }
        if let retryAt, FileWriter.monotonicNow() < retryAt { return }
        if !withinSizeLimit() {
            dropped += buffer.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
            buffer.removeAll(keepingCapacity: true)
            return
        }
        if fd < 0 && !open() {
            failing()
            return
        }
        var offset = 0
        defer { reportSealProblems() }
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n > 0, let sealer {
                // Only what the kernel took is sealed. All of it at once (the usual case): the buffer itself goes
                // to the sealing thread and an empty one comes back, no copy.
                if offset == 0 && n == buffer.count {
                    sealer.take(&buffer)
                    written += n
                    break
                }
                buffer.withUnsafeBytes { sealer.written(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
            }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                failed += 1
                lastError = "write error on \(path): \(String(cString: strerror(code)))"
                if code == EBADF || code == EIO || code == ENOTCONN {
                    close(fd)
                    fd = -1
                }
                buffer.removeFirst(offset)
                written += offset
                failing()
                return
            }
            offset += n
        }
        written += offset
        buffer.removeAll(keepingCapacity: true)
        if retryAt != nil {
            sinkLog(
                "omfile: \(path) is written again after \(failuresInARow) failed attempts"
                    + (dropped > 0 ? "; \(dropped) lines were dropped meanwhile" : "; nothing was lost"),
                severity: .notice)
            retryAt = nil
            failuresInARow = 0
        }
    }

    private func failing() {
        if failuresInARow == 0 { sinkLog("omfile: \(lastError ?? path); lines are held and retried every second") }
        failuresInARow += 1
        retryAt = FileWriter.monotonicNow() + 1_000_000_000
    }

    static func monotonicNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Closes the file; the next write opens the path again (a failing one is tried again at once).
    func reopen() {
        if retryAt != nil { retryAt = 0 }
        flush()
        closeSeal()
        if fd >= 0 { close(fd) }
        fd = -1
        if retryAt != nil { retryAt = 0 }
    }

    private func open() -> Bool {
        makeDirectories(for: path)
        let flags = O_WRONLY | O_APPEND | O_CLOEXEC
        fd = Glibc.open(path, flags)
        if fd < 0 && errno == ENOENT {
            // Created here: it gets the configured owner and group, as omfile gives them to files it creates.
            fd = Glibc.open(path, flags | O_CREAT, createMode)
            if fd >= 0 && (ownership.fileOwner != nil || ownership.fileGroup != nil) {
                if fchown(fd, ownership.fileOwner ?? UInt32.max, ownership.fileGroup ?? UInt32.max) != 0 {
                    lastError = "cannot change the owner of \(path): \(String(cString: strerror(errno)))"
                }
            }
        }
        if fd < 0 {
            failed += 1
            lastError = "cannot open \(path): \(String(cString: strerror(errno)))"
            return false
        }
        sealer?.opened(logDescriptor: fd)
        return true
    }

    private func makeDirectories(for file: String) {
        var parts = file.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()
        var current = file.hasPrefix("/") ? "" : "."
        for part in parts where !part.isEmpty {
            current += "/" + part
            if access(current, F_OK) != 0 && mkdir(current, dirCreateMode) == 0
                && (ownership.dirOwner != nil || ownership.dirGroup != nil)
            {
                _ = chown(current, ownership.dirOwner ?? UInt32.max, ownership.dirGroup ?? UInt32.max)
            }
        }
    }
}
