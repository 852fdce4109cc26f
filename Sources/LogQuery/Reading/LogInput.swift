#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Hands the whole lines of `buffer[0..<filled]` to `body` and moves the unfinished last line to the front;
/// returns its length (what is kept for the next read).
func deliverWholeLines(_ buffer: inout [UInt8], filled: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Int {
    guard let cut = buffer[..<filled].lastIndex(of: 0x0A) else { return filled }
    buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0...cut])) }
    let rest = filled - cut - 1
    if rest > 0 {
        buffer.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress else { return }
            memmove(base, base + cut + 1, rest)
        }
    }
    return rest
}

/// Why an input could not be read, naming it.
public struct InputError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    /// What was read before the error counts (a truncated `.gz`): the lines are kept, the error still reported.
    public var partial = false
    public var description: String { "\(path): \(reason)" }

    public init(path: String, reason: String, partial: Bool = false) {
        self.path = path
        self.reason = reason
        self.partial = partial
    }
}

/// A regular file read with `pread` in large blocks: each worker reads its own byte range, so the file is
/// never held in memory (a mapped file would count in the resident size).
final class BlockFile {
    let path: String
    let fd: Int32
    let size: Int
    /// Where reading starts (a redirected stdin may have been read from already).
    let start: Int
    private let owned: Bool

    /// Standard input when it is a regular file (`logquery halog < haproxy.log`): read in parallel too.
    init?(standardInputNamed name: String) {
        var info = stat()
        guard fstat(0, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        path = name
        fd = 0
        size = Int(info.st_size)
        start = max(0, Int(lseek(0, 0, SEEK_CUR)))
        owned = false
    }

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw InputError(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw InputError(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw InputError(path: path, reason: "not a regular file")
        }
        #if os(Linux)
            posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        self.path = path
        self.fd = fd
        size = Int(info.st_size)
        start = 0
        owned = true
    }

    deinit { if owned { close(fd) } }

    /// The offset just after the first newline at or after `offset` (or the end).
    func lineStart(after offset: Int) throws -> Int {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var position = offset
        while position < size {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position)) }
            guard n > 0 else { throw InputError(path: path, reason: String(cString: strerror(errno))) }
            if let i = buffer[..<n].firstIndex(of: 0x0A) { return position + i + 1 }
            position += n
        }
        return size
    }

    /// Calls `body` with blocks of whole lines covering `range` (which starts at a line start).
    ///
    /// The file is mapped a window at a time (8 MB, pre-faulted, unmapped after use): no copy out of the page
    /// cache and a resident size that does not grow with the file. A line across a window's end starts the next
    /// window; a line longer than a window gets a larger one.
    func forEachBlock(in range: Range<Int>, window: Int = 8 << 20, _ body: (UnsafeBufferPointer<UInt8>) -> Void)
        throws
    {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var position = range.lowerBound
        var size = window
        while position < range.upperBound {
            let mapStart = position / page * page
            let mapEnd = min(range.upperBound, mapStart + size)
            let length = mapEnd - mapStart
            #if os(Linux)
                let flags = MAP_PRIVATE | MAP_POPULATE
            #else
                let flags = MAP_PRIVATE
            #endif
            guard let address = mmap(nil, length, PROT_READ, flags, fd, off_t(mapStart)), address != MAP_FAILED
            else { throw InputError(path: path, reason: "cannot map: \(String(cString: strerror(errno)))") }
            defer { munmap(address, length) }
            let bytes = UnsafeBufferPointer(start: address.assumingMemoryBound(to: UInt8.self), count: length)
            let skip = position - mapStart
            let atEnd = mapEnd == range.upperBound
            let cut: Int?
            if atEnd {
                cut = length - 1
            } else {
                cut = bytes[skip...].lastIndex(of: 0x0A)
            }
            guard let cut else {
                // One line longer than the window: look again with a larger one.
                size *= 2
                continue
            }
            body(UnsafeBufferPointer(rebasing: bytes[skip...cut]))
            position = mapStart + cut + 1
            size = window
        }
    }
}

/// Reads a stream (stdin, a pipe) in large blocks and hands over whole lines, keeping a partial last line for
/// the next block.
struct BlockReader {
    let fd: Int32
    let name: String
    private var buffer: [UInt8]
    private var kept = 0
    private var finished = false

    init(fd: Int32, name: String, blockSize: Int = 4 << 20, prefix: [UInt8] = []) {
        self.fd = fd
        self.name = name
        buffer = [UInt8](repeating: 0, count: max(blockSize, prefix.count * 2))
        buffer.replaceSubrange(0..<prefix.count, with: prefix)
        kept = prefix.count
    }

    /// Calls `body` with a buffer of whole lines (the last one possibly without its newline at the end of input);
    /// returns false at the end.
    mutating func next(_ body: (UnsafeBufferPointer<UInt8>) -> Void) throws -> Bool {
        if finished { return false }
        if kept == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
        let n = buffer.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            return read(fd, base + kept, raw.count - kept)
        }
        if n < 0 {
            if errno == EINTR { return true }
            throw InputError(path: name, reason: String(cString: strerror(errno)))
        }
        if n == 0 {
            finished = true
            if kept > 0 { buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<kept])) } }
            return kept > 0
        }
        kept = deliverWholeLines(&buffer, filled: kept + n, body)
        return true
    }
}
