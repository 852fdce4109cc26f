import CZlib
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `.gz` file inflated as a stream (never to disk): whole lines handed over block by block. Concatenated gzip
/// members (as `cat a.gz b.gz` makes) are read one after the other.
struct GzipReader {
    let path: String
    /// An open descriptor to read instead of opening `path` (standard input), and bytes already read from it.
    var descriptor: Int32? = nil
    var prefix: [UInt8] = []

    init(path: String) { self.path = path }

    init(descriptor: Int32, name: String, prefix: [UInt8]) {
        path = name
        self.descriptor = descriptor
        self.prefix = prefix
    }

    /// Whether bytes start as gzip data does (its magic number).
    static func isGzip(_ start: [UInt8]) -> Bool { start.count >= 2 && start[0] == 0x1F && start[1] == 0x8B }

    /// `compressed` hears how many compressed bytes each read took (a progress line's measure).
    func forEachBlock(compressed: (Int) -> Void = { _ in }, _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws {
        let fd = descriptor ?? open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw InputError(path: path, reason: String(cString: strerror(errno))) }
        defer { if descriptor == nil { close(fd) } }
        var pending = prefix
        var stream = z_stream()
        guard tollgate_inflate_init_gzip(&stream) == Z_OK else {
            throw InputError(path: path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        let inSize = 1 << 20
        var input = [UInt8](repeating: 0, count: inSize)
        var output = [UInt8](repeating: 0, count: 4 << 20)
        var kept = 0
        var finished = false
        // The last member has ended and nothing of another one came since: where a whole file stops.
        var complete = false
        while !finished {
            let n: Int
            if !pending.isEmpty {
                n = min(pending.count, inSize)
                input.replaceSubrange(0..<n, with: pending.prefix(n))
                pending.removeFirst(n)
            } else {
                n = input.withUnsafeMutableBytes { read(fd, $0.baseAddress, inSize) }
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            compressed(n)
            var offset = 0
            while offset < n {
                if kept == output.count { output.append(contentsOf: repeatElement(0, count: output.count)) }
                let (status, used, produced) = input.withUnsafeMutableBufferPointer { inBuf in
                    output.withUnsafeMutableBufferPointer { outBuf -> (Int32, Int, Int) in
                        stream.next_in = inBuf.baseAddress.map { $0 + offset }
                        stream.avail_in = UInt32(n - offset)
                        stream.next_out = outBuf.baseAddress.map { $0 + kept }
                        stream.avail_out = UInt32(outBuf.count - kept)
                        let status = inflate(&stream, Z_NO_FLUSH)
                        return (status, n - offset - Int(stream.avail_in), outBuf.count - kept - Int(stream.avail_out))
                    }
                }
                offset += used
                kept += produced
                switch status {
                case Z_OK, Z_BUF_ERROR:
                    if used > 0 || produced > 0 { complete = false }
                case Z_STREAM_END:
                    // Another member may follow.
                    inflateReset(&stream)
                    complete = true
                default:
                    // Bytes after a whole member that are not another member: stop there, as gzip -d does (it
                    // warns of trailing garbage); inside a member, the file is damaged.
                    guard complete else {
                        throw InputError(path: path, reason: "not a valid gzip file (zlib error \(status))")
                    }
                    finished = true
                }
                // Hand over the whole lines produced so far.
                kept = deliverWholeLines(&output, filled: kept, body)
                if finished || (used == 0 && produced == 0) { break }
            }
        }
        if kept > 0 { output.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<kept])) } }
        guard complete else {
            throw InputError(
                path: path, reason: "truncated: the compressed data stops before its end (the lines before the cut are counted)",
                partial: true)
        }
    }
}

/// The whole contents of a file, inflated when its name ends in `.gz` (for `logquery verify`).
public func fileContents(_ path: String) throws -> [UInt8] {
    guard path.hasSuffix(".gz") else {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError(path: path, reason: "cannot read it")
        }
        return [UInt8](data)
    }
    var out: [UInt8] = []
    try GzipReader(path: path).forEachBlock { out.append(contentsOf: $0) }
    return out
}
