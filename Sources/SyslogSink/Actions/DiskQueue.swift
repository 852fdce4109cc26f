import Foundation
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The disk part of an action queue (`queue.filename`): messages in order, kept across restarts.
///
/// Files in the work directory: segments `NAME.10000000`, `NAME.10000001`… (each up to `queue.maxFileSize`), each a
/// run of records `sequence (8 bytes, big-endian) · length (4 bytes) · message`, and `NAME.qi` with the highest
/// sequence number known to be delivered. Every message has a sequence number, increasing in the order the queue
/// took them; reading skips what is delivered and anything not newer than what it read last, so a segment written at
/// stop in front of the others (`prepend`) can repeat records without their being sent twice. A record cut short by
/// a crash is dropped when the queue is opened. Not thread-safe: the forwarder's lock guards it.
final class DiskQueue {
    struct Record {
        var sequence: UInt64
        var bytes: [UInt8]
    }

    private struct Segment {
        var number: Int
        var size: Int
        var lastSequence: UInt64
    }

    let directory: String
    let name: String
    private let maxFileSize: Int
    private let maxDiskSpace: Int

    /// Records stored and not read yet.
    private(set) var unread = 0
    /// The bytes the segments take (written or waiting in the write buffer).
    private(set) var bytesOnDisk = 0
    /// The highest sequence number delivered for sure (as `confirm` was told).
    private(set) var confirmed: UInt64 = 0
    /// The highest sequence number stored (the queue continues after it).
    private(set) var highestStored: UInt64 = 0

    private var segments: [Segment] = []
    private var writeFD: Int32 = -1
    /// Appended records not yet written to the last segment.
    private var pending: [UInt8] = []
    /// Bytes of the last segment already in the file.
    private var writtenSize = 0

    private var readIndex = 0
    private var readFD: Int32 = -1
    private var readBuffer: [UInt8] = []
    private var bufferOffset = 0
    private var bufferPosition = 0
    private var highestRead: UInt64 = 0
    private var stateDirty = false
    private var persistedAt = ContinuousClock.now

    static let firstSegment = 10_000_000
    /// Queue files hold log lines: readable by the sink's user only (as rsyslog's, 0600).
    static var `private`: [FileAttributeKey: Any] { [.posixPermissions: 0o600] }
    static let recordHeader = 12

    /// Opens the queue in `directory`, reading what an earlier run left.
    init(directory: String, name: String, maxFileSize: Int = 1 << 20, maxDiskSpace: Int = 0) throws {
        self.directory = directory
        self.name = name
        self.maxFileSize = maxFileSize
        self.maxDiskSpace = maxDiskSpace
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        confirmed = readState()
        highestStored = confirmed
        try load()
    }

    deinit { close() }

    private func path(_ number: Int) -> String { "\(directory)/\(name).\(number)" }
    private var statePath: String { "\(directory)/\(name).qi" }

    private func readState() -> UInt64 {
        guard let text = try? String(contentsOfFile: statePath, encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("confirmed ") {
            return UInt64(line.dropFirst("confirmed ".count)) ?? 0
        }
        return 0
    }

    /// Finds the segments, counts what is unread, drops a torn last record and the segments already delivered.
    private func load() throws {
        let prefix = name + "."
        let numbers = (try FileManager.default.contentsOfDirectory(atPath: directory)).compactMap { file -> Int? in
            guard file.hasPrefix(prefix) else { return nil }
            return Int(file.dropFirst(prefix.count))
        }.sorted()
        var running = confirmed
        for (i, number) in numbers.enumerated() {
            let bytes = try Self.contents(path(number))
            var position = 0
            var last: UInt64 = 0
            while let (record, next) = Self.record(in: bytes, at: position) {
                last = max(last, record.sequence)
                highestStored = max(highestStored, record.sequence)
                if record.sequence > running {
                    unread += 1
                    running = record.sequence
                }
                position = next
            }
            if position < bytes.count && i == numbers.count - 1 {
                // A record cut short by a crash: it was never whole, so never taken.
                _ = truncate(path(number), off_t(position))
            }
            segments.append(Segment(number: number, size: position, lastSequence: last))
        }
        // Segments wholly delivered go now.
        while let first = segments.first, first.lastSequence <= confirmed {
            unlink(path(first.number))
            segments.removeFirst()
        }
        bytesOnDisk = segments.reduce(0) { $0 + $1.size }
        if let last = segments.last { writtenSize = last.size }
    }

    private static func contents(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DiskQueueError(message: "cannot read \(path)")
        }
        return [UInt8](data)
    }

    /// The record at `position`, and where the next one begins; nil at the end or before a torn record.
    private static func record(in bytes: [UInt8], at position: Int) -> (Record, Int)? {
        guard position + recordHeader <= bytes.count else { return nil }
        var sequence: UInt64 = 0
        for i in 0..<8 { sequence = sequence << 8 | UInt64(bytes[position + i]) }
        var length = 0
        for i in 8..<12 { length = length << 8 | Int(bytes[position + i]) }
        let start = position + recordHeader
        guard start + length <= bytes.count else { return nil }
        return (Record(sequence: sequence, bytes: Array(bytes[start..<(start + length)])), start + length)
    }

    // MARK: Writing

    /// Appends a message; false when `queue.maxDiskSpace` would be exceeded or the disk refuses it.
    func append(_ sequence: UInt64, _ message: [UInt8]) -> Bool {
        let size = Self.recordHeader + message.count
        if maxDiskSpace > 0 && bytesOnDisk + size > maxDiskSpace { return false }
        if segments.isEmpty
            || (segments[segments.count - 1].size > 0 && segments[segments.count - 1].size + size > maxFileSize)
        {
            guard startSegment() else { return false }
        }
        for shift in stride(from: 56, through: 0, by: -8) {
            pending.append(UInt8(truncatingIfNeeded: sequence >> UInt64(shift)))
        }
        let length = UInt32(message.count)
        for shift in stride(from: 24, through: 0, by: -8) {
            pending.append(UInt8(truncatingIfNeeded: length >> UInt32(shift)))
        }
        pending.append(contentsOf: message)
        segments[segments.count - 1].size += size
        segments[segments.count - 1].lastSequence = sequence
        bytesOnDisk += size
        unread += 1
        highestStored = max(highestStored, sequence)
        if pending.count >= 65_536 { return flush() }
        return true
    }

    /// Writes what waits in the buffer to the last segment.
    @discardableResult
    func flush() -> Bool {
        guard !pending.isEmpty else { return true }
        if writeFD < 0, let last = segments.last {
            writeFD = open(path(last.number), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard writeFD >= 0 else { return false }
        }
        let ok = pending.withUnsafeBytes { buffer -> Bool in
            var done = 0
            while done < buffer.count {
                let n = write(writeFD, buffer.baseAddress?.advanced(by: done), buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
        if ok {
            writtenSize += pending.count
            pending.removeAll(keepingCapacity: true)
        }
        return ok
    }

    private func startSegment() -> Bool {
        guard flush() else { return false }
        if writeFD >= 0 { closeDescriptor(writeFD) }
        writeFD = -1
        let number = (segments.last?.number ?? Self.firstSegment - 1) + 1
        let fd = open(path(number), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        writeFD = fd
        writtenSize = 0
        segments.append(Segment(number: number, size: 0, lastSequence: 0))
        return true
    }

    // MARK: Reading

    /// The next record not yet read, or nil when there is none.
    func next() -> Record? {
        while readIndex < segments.count {
            let segment = segments[readIndex]
            let isLast = readIndex == segments.count - 1
            if isLast && !pending.isEmpty { flush() }
            let available = isLast ? writtenSize : segment.size
            if let record = nextRecord(limit: available) {
                if record.sequence <= max(highestRead, confirmed) { continue }
                highestRead = record.sequence
                unread = max(0, unread - 1)
                return record
            }
            // The end of this segment: on to the next one, unless it is the one being written.
            guard !isLast else { return nil }
            closeReader()
            readIndex += 1
        }
        return nil
    }

    private func nextRecord(limit: Int) -> Record? {
        guard ensure(Self.recordHeader, limit: limit) else { return nil }
        var sequence: UInt64 = 0
        var length = 0
        for i in 0..<8 { sequence = sequence << 8 | UInt64(readBuffer[bufferPosition + i]) }
        for i in 8..<12 { length = length << 8 | Int(readBuffer[bufferPosition + i]) }
        guard ensure(Self.recordHeader + length, limit: limit) else { return nil }
        let start = bufferPosition + Self.recordHeader
        let record = Record(sequence: sequence, bytes: Array(readBuffer[start..<(start + length)]))
        bufferPosition = start + length
        return record
    }

    /// Makes `count` bytes from the read position available in the buffer (not past `limit` in the file).
    private func ensure(_ count: Int, limit: Int) -> Bool {
        if bufferPosition + count <= readBuffer.count { return true }
        let fileOffset = bufferOffset + bufferPosition
        guard fileOffset + count <= limit else { return false }
        if readFD < 0 {
            readFD = open(path(segments[readIndex].number), O_RDONLY | O_CLOEXEC)
            guard readFD >= 0 else { return false }
        }
        let want = min(max(count, 65_536), limit - fileOffset)
        var fresh = [UInt8](repeating: 0, count: want)
        let got = fresh.withUnsafeMutableBytes { pread(readFD, $0.baseAddress, want, off_t(fileOffset)) }
        guard got >= count else { return false }
        fresh.removeLast(want - got)
        readBuffer = fresh
        bufferOffset = fileOffset
        bufferPosition = 0
        return true
    }

    private func closeReader() {
        if readFD >= 0 { closeDescriptor(readFD) }
        readFD = -1
        readBuffer = []
        bufferOffset = 0
        bufferPosition = 0
    }

    // MARK: Delivery

    /// Everything up to `sequence` is delivered: segments wholly read and delivered are deleted, and the state
    /// file says so (at most every 200 ms; `close` writes it for good).
    func confirm(upTo sequence: UInt64) {
        guard sequence > confirmed else { return }
        confirmed = sequence
        stateDirty = true
        while readIndex > 0, let first = segments.first, first.lastSequence <= confirmed {
            unlink(path(first.number))
            bytesOnDisk -= first.size
            segments.removeFirst()
            readIndex -= 1
        }
        // The last segment too, once everything in it is read and delivered: the next message starts a new one.
        if readIndex == 0, segments.count == 1, unread == 0, segments[0].lastSequence <= confirmed, pending.isEmpty {
            closeReader()
            if writeFD >= 0 { closeDescriptor(writeFD) }
            writeFD = -1
            unlink(path(segments[0].number))
            bytesOnDisk -= segments[0].size
            segments.removeAll()
            writtenSize = 0
        }
        if ContinuousClock.now - persistedAt > .milliseconds(200) { persist() }
    }

    /// Writes the state file (through a temporary file and a rename, so it is whole or old, never half).
    func persist() {
        guard stateDirty else { return }
        let temporary = statePath + ".tmp"
        let text = "tollgate-queue 1\nconfirmed \(confirmed)\n"
        if FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: Self.private) {
            rename(temporary, statePath)
        }
        stateDirty = false
        persistedAt = ContinuousClock.now
    }

    /// At stop: writes `records` (older than everything on disk, in order) in a segment in front of the others.
    func prepend(_ records: [Record]) throws {
        guard !records.isEmpty else { return }
        let number = (segments.first?.number ?? Self.firstSegment) - 1
        var bytes: [UInt8] = []
        for r in records {
            for shift in stride(from: 56, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: r.sequence >> UInt64(shift)))
            }
            let length = UInt32(r.bytes.count)
            for shift in stride(from: 24, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: length >> UInt32(shift)))
            }
            bytes.append(contentsOf: r.bytes)
        }
        guard FileManager.default.createFile(atPath: path(number), contents: Data(bytes), attributes: Self.private)
        else {
            throw DiskQueueError(message: "cannot write \(path(number))")
        }
        segments.insert(
            Segment(number: number, size: bytes.count, lastSequence: records[records.count - 1].sequence), at: 0)
        bytesOnDisk += bytes.count
        unread += records.count
        readIndex = 0
        closeReader()
    }

    /// Writes what is buffered and the state file, and closes the files.
    func close() {
        flush()
        persist()
        closeReader()
        if writeFD >= 0 { closeDescriptor(writeFD) }
        writeFD = -1
    }
}

struct DiskQueueError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
