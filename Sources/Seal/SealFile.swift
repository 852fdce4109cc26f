import Crypto
import Foundation

/// A sidecar as read back (see `Seal` for the format).
public struct SealFile: Sendable {
    public struct Checkpoint: Sendable {
        /// Whole lines and bytes of the file covered.
        public var lines: Int
        public var offset: Int
        public var hash: String
        public var signature: String
    }

    public struct Segment: Sendable {
        public var inode: UInt64
        public var offset: Int
        /// The file's line (0-based) the segment starts at.
        public var line: Int
        public var previous: String
        public var digests: [UInt32] = []
        public var checkpoints: [Checkpoint] = []
    }

    public var algorithm = ""
    public var publicKey: String?
    public var segments: [Segment] = []
    /// Sidecar lines (1-based) that are none of the records: the sidecar itself was damaged.
    public var damaged: [Int] = []
    /// The sidecar ends inside a record (no newline after it): the sink was stopped while writing it (kill -9,
    /// power loss). That record is set aside, neither trusted nor taken for damage; the sink cuts it off when it
    /// opens the sidecar again.
    public var unfinishedRecord = false

    public static func read(path: String) -> SealFile? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var file = SealFile()
        var number = 0
        let pieces = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        for (index, line) in pieces.enumerated() {
            number += 1
            if line.isEmpty { continue }
            if index == pieces.count - 1 {
                file.unfinishedRecord = true
                continue
            }
            if line.count == 8, let value = UInt32(String(decoding: line, as: UTF8.self), radix: 16),
                !file.segments.isEmpty
            {
                file.segments[file.segments.count - 1].digests.append(value)
                continue
            }
            let words = line.split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
            switch words.first {
            case "tollgate-seal" where words.count == 4 && words[1] == "1":
                file.algorithm = words[2]
                file.publicKey = words[3] == "-" ? nil : words[3]
            case "S" where words.count == 5:
                guard let inode = UInt64(words[1]), let offset = Int(words[2]), let start = Int(words[3]) else {
                    file.damaged.append(number)
                    continue
                }
                file.segments.append(Segment(inode: inode, offset: offset, line: start, previous: words[4]))
            case "C" where words.count == 5 && !file.segments.isEmpty:
                guard let lines = Int(words[1]), let offset = Int(words[2]) else {
                    file.damaged.append(number)
                    continue
                }
                file.segments[file.segments.count - 1].checkpoints.append(
                    Checkpoint(lines: lines, offset: offset, hash: words[3], signature: words[4]))
            default:
                file.damaged.append(number)
            }
        }
        return file
    }

    /// Where the sidecar left off: the file it describes, how far, and the last checkpoint's hash.
    static func lastState(of path: String) -> (inode: UInt64, offset: Int, hash: String?)? {
        guard let file = read(path: path), let last = file.segments.last else { return nil }
        let checkpoint = file.segments.reversed().lazy.compactMap(\.checkpoints.last).first
        return (last.inode, last.checkpoints.last?.offset ?? last.offset, checkpoint?.hash)
    }

    /// Cuts an unfinished last record (see `unfinishedRecord`) off the sidecar open (read-write) as `descriptor`,
    /// so that what is appended next starts a line of its own. Returns false when the sidecar could not be read or cut.
    static func cutUnfinishedRecord(descriptor: Int32) -> Bool {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        var end = Int(info.st_size)
        guard end > 0 else { return true }
        var byte: UInt8 = 0
        guard pread(descriptor, &byte, 1, off_t(end - 1)) == 1 else { return false }
        if byte == 0x0A { return true }
        // Back to the last newline, a block at a time (a record is a few hundred bytes at most).
        var block = [UInt8](repeating: 0, count: 4096)
        while end > 0 {
            let start = max(0, end - block.count)
            let count = block.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, end - start, off_t(start)) }
            guard count == end - start else { return false }
            if let newline = block[0..<count].lastIndex(of: 0x0A) {
                return ftruncate(descriptor, off_t(start + newline + 1)) == 0
            }
            end = start
        }
        return ftruncate(descriptor, 0) == 0
    }

    /// Newlines in the first `size` bytes of a file.
    static func countLines(path: String, upTo size: Int) -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else { return 0 }
        defer { try? handle.close() }
        var count = 0
        var left = size
        while left > 0, let chunk = try? handle.read(upToCount: min(left, 1 << 20)), !chunk.isEmpty {
            count += chunk.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            left -= chunk.count
        }
        return count
    }
}
