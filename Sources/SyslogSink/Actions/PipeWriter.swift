#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A named pipe as rsyslog's ompipe writes it (`|/dev/xconsole`, `action(type="ompipe" pipe=…)`): opened read-write
/// and non-blocking, so that a pipe nobody reads neither blocks the sink nor fails at once: the kernel keeps up
/// to its buffer (64 KiB), and what does not fit then is dropped and counted, as rsyslogd's suspended action
/// loses it. A pipe that is not there is retried on the next message (and counted).
final class PipeWriter {
    let path: String
    private var fd: Int32 = -1
    private(set) var written = 0
    private(set) var dropped = 0
    private(set) var failed = 0
    private var warned = false

    init(path: String) { self.path = path }

    deinit { if fd >= 0 { close(fd) } }

    func write(_ bytes: [UInt8]) {
        if fd < 0 {
            fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else {
                failed += 1
                if !warned {
                    warned = true
                    sinkLog("ompipe: cannot open \(path): \(String(cString: strerror(errno))) (counted from now on)")
                }
                return
            }
            warned = false
        }
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if n == bytes.count {
            written += n
        } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
            dropped += 1  // nobody reads it and its buffer is full
        } else {
            failed += 1
            close(fd)
            fd = -1
        }
    }

    /// SIGHUP: closed; the next message reopens it.
    func reopen() {
        if fd >= 0 { close(fd) }
        fd = -1
    }
}
