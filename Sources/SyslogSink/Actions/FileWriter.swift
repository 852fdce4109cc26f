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
    private(set) var failed = 0
    /// The last error, for the sink's own log.
    private(set) var lastError: String?

    let ownership: FileOwnership

    init(path: String, createMode: UInt16, dirCreateMode: UInt16, ownership: FileOwnership = FileOwnership()) {
        self.path = path
        self.createMode = mode_t(createMode)
        self.dirCreateMode = mode_t(dirCreateMode)
        self.ownership = ownership
        buffer.reserveCapacity(64 << 10)
    }

    deinit {
        flush()
        if fd >= 0 { close(fd) }
    }

    func append(_ line: [UInt8]) {
        buffer.append(contentsOf: line)
        if buffer.count >= 64 << 10 { flush() }
    }

    /// Renders a line straight into the buffer (no intermediate array).
    func append(_ message: SyslogMessage, as template: OutputTemplate) {
        template.render(message, into: &buffer)
        if buffer.count >= 64 << 10 { flush() }
    }

    /// Writes what is buffered; on failure the bytes are kept for the next flush (nothing accepted is lost
    /// while the disk is full) and the failure is counted.
    func flush() {
        guard !buffer.isEmpty else { return }
        if fd < 0 && !open() { return }
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                failed += 1
                lastError = "write error on \(path): \(String(cString: strerror(errno)))"
                if errno == EBADF || errno == EIO { reopen() }
                buffer.removeFirst(offset)
                return
            }
            offset += n
        }
        written += offset
        buffer.removeAll(keepingCapacity: true)
    }

    /// Closes the file; the next write opens the path again.
    func reopen() {
        flush()
        if fd >= 0 { close(fd) }
        fd = -1
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

/// `--root`: every path of the configuration mapped under one folder (demos and tests); `path` itself without one.
func underRoot(_ path: String, _ root: String?) -> String {
    guard let root else { return path }
    return root + (path.hasPrefix("/") ? path : "/" + path)
}
