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

    init(path: String, createMode: UInt16, dirCreateMode: UInt16) {
        self.path = path
        self.createMode = mode_t(createMode)
        self.dirCreateMode = mode_t(dirCreateMode)
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
        let flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC
        fd = Glibc.open(path, flags, createMode)
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
            if access(current, F_OK) != 0 { mkdir(current, dirCreateMode) }
        }
    }
}
