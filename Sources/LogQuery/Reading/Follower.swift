#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Follows a log file like `tail -F`: reads what is there, then what is appended, and carries on across
/// rotation (the path now names another file: the rest of the old one is read, then the new one from its
/// start) and truncation (`copytruncate`: read again from the start).
public struct Follower {
    public let path: String
    public var pollMicroseconds: UInt32 = 200_000

    public init(path: String) { self.path = path }

    /// Calls `body` with blocks of whole lines until `shouldStop` says so (checked between polls).
    public func run(fromEnd: Bool, _ body: (UnsafeBufferPointer<UInt8>) -> Void, shouldStop: () -> Bool) throws {
        var fd = try openWaiting(shouldStop)
        guard fd >= 0 else { return }
        defer { if fd >= 0 { close(fd) } }
        if fromEnd { lseek(fd, 0, SEEK_END) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var kept = 0
        var rotationSeen = false
        while !shouldStop() {
            if kept == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return read(fd, base + kept, raw.count - kept)
            }
            if n > 0 {
                kept = deliverWholeLines(&buffer, filled: kept + n, body)
                continue
            }
            if n < 0 && errno != EINTR { throw InputError(path: path, reason: String(cString: strerror(errno))) }
            // At the end: has the file been rotated or truncated?
            var now = stat()
            var current = stat()
            fstat(fd, &current)
            if stat(path, &now) == 0 && (now.st_ino != current.st_ino || now.st_dev != current.st_dev) {
                // Read the old file once more (its writer may not have moved yet), then switch.
                if !rotationSeen {
                    rotationSeen = true
                    usleep(pollMicroseconds)
                    continue
                }
                let next = open(path, O_RDONLY | O_CLOEXEC)
                if next >= 0 {
                    if kept > 0 {
                        // The old file's last line had no newline: it ends there.
                        buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<kept])) }
                        kept = 0
                    }
                    close(fd)
                    fd = next
                    rotationSeen = false
                    continue
                }
            } else if lseek(fd, 0, SEEK_CUR) > Int(current.st_size) {
                lseek(fd, 0, SEEK_SET)
                kept = 0
                continue
            }
            usleep(pollMicroseconds)
        }
    }

    /// Opens the path, waiting for it to appear (like `tail -F`); -1 when told to stop first.
    private func openWaiting(_ shouldStop: () -> Bool) throws -> Int32 {
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
            if errno != ENOENT { throw InputError(path: path, reason: String(cString: strerror(errno))) }
            if shouldStop() { return -1 }
            usleep(pollMicroseconds)
        }
    }
}

extension Scanner {
    /// Follows one file (`--follow`), feeding each new block to `accumulator` and calling `afterBlock`.
    public func follow<A: LineAccumulator>(
        _ path: String, into accumulator: inout A, fromEnd: Bool = false, afterBlock: (ScanCounts) -> Void,
        shouldStop: () -> Bool = { false }
    ) throws {
        var counts = ScanCounts()
        try Follower(path: path).run(
            fromEnd: fromEnd,
            { block in
                scanBuffer(block, into: &accumulator, counts: &counts)
                afterBlock(counts)
            }, shouldStop: shouldStop)
    }
}
