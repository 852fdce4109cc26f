import Crypto
import Foundation
import LogCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The writing side of a seal: told about every byte the log file's writer has handed to the kernel, it keeps the
/// sidecar (`FILE.seal`, see `Seal`) — a digest per line, a signed checkpoint at most every `interval` and when
/// the file is closed. Only bytes that were written are sealed: after a crash the file verifies up to its last
/// checkpoint, and what follows is reported as not covered.
///
/// The hashing runs on a thread of its own, in the order the writes happened, so that sealing costs the writer
/// (the sink's ingest loop) only the hand-over of the buffer it wrote: the SHA-256 chain alone is ~10% of a core at
/// a million lines a second. `close()` waits until everything queued is sealed; a writer that gets more than
/// `maximumQueued` bytes ahead of the thread waits for it (memory stays bounded when a disk is slow).
public final class Sealer: @unchecked Sendable {
    public let logPath: String
    public let sidecarPath: String
    /// What the sealing thread works on, and what it shares with the writer.
    private let work: SealWork
    /// The sealing thread.
    private let worker: WorkerQueue<Operation>
    static let maximumQueued = 64 << 20

    enum Operation {
        case opened(inode: UInt64, size: Int)
        case bytes([UInt8])
        case checkpoint(force: Bool)
        case close
    }

    public init(logPath: String, key: SealKey, checkpointEvery interval: Duration = .seconds(1)) {
        self.logPath = logPath
        sidecarPath = logPath + Seal.sidecarSuffix
        let work = SealWork(SealState(logPath: logPath, key: key, checkpointEvery: interval))
        self.work = work
        // A writer that gets more than `maximumQueued` bytes ahead of the thread waits for it.
        worker = WorkerQueue(
            name: "seal", limit: Sealer.maximumQueued,
            cost: { if case .bytes(let bytes) = $0 { bytes.count } else { 0 } },
            process: { work.seal($0) })
    }

    deinit { close() }

    /// Problems for the daemon's own log since the last call.
    public func takeProblems() -> [String] {
        work.shared.withLock { shared in
            defer { shared.problems = [] }
            return shared.problems
        }
    }

    /// The anchors of the checkpoints written since the last call (`SealAnchor`): messages for the daemon's own
    /// log, which its rules send off the host.
    public func takeAnchors() -> [String] {
        work.shared.withLock { shared in
            defer { shared.anchors = [] }
            return shared.anchors
        }
    }

    /// The log file was opened (or reopened after a HUP); see `SealState.opened`.
    public func opened(logDescriptor fd: Int32) {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let problem = "seal: cannot stat \(logPath): \(String(cString: strerror(errno)))"
            work.shared.withLock { $0.problems.append(problem) }
            return
        }
        worker.submit(.opened(inode: UInt64(info.st_ino), size: Int(info.st_size)), whenFull: .wait)
    }

    /// Bytes the writer has just handed to the kernel for the log file.
    public func written(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        // A buffer the thread has finished with, when there is one (no allocation per write).
        var copy = work.shared.withLock { $0.spare.popLast() } ?? []
        copy.append(contentsOf: bytes)
        worker.submit(.bytes(copy), whenFull: .wait)
    }

    /// Bytes just written, handed over whole: `buffer` goes to the sealing thread and comes back as an empty
    /// buffer (with capacity) for the writer to fill again.
    public func take(_ buffer: inout [UInt8]) {
        guard !buffer.isEmpty else { return }
        var empty = work.shared.withLock { $0.spare.popLast() } ?? []
        empty.reserveCapacity(buffer.capacity)
        swap(&empty, &buffer)
        worker.submit(.bytes(empty), whenFull: .wait)
    }

    /// A signed checkpoint when one is due (or `force`).
    public func checkpoint(force: Bool) { worker.submit(.checkpoint(force: force), whenFull: .wait) }

    /// The log file is closed (HUP, stop): everything queued is sealed, a last checkpoint written, the sidecar
    /// closed; returns when that is done. The thread ends; the next write after a reopen starts another.
    public func close() {
        guard worker.isRunning else { return }
        worker.submit(.checkpoint(force: true), whenFull: .wait)
        worker.submit(.close, whenFull: .wait)
        worker.stop()
    }
}

/// The sealing thread's side: the seal's state (touched only there) and, under its own lock, what goes back to the
/// writer (emptied buffers, problems for the daemon's log).
final class SealWork: @unchecked Sendable {
    struct Shared {
        var spare: [[UInt8]] = []
        var problems: [String] = []
        var anchors: [String] = []
    }
    private let state: SealState
    let shared = Mutex(Shared())

    init(_ state: SealState) { self.state = state }

    /// One batch, on the sealing thread, in the order the writes happened.
    func seal(_ batch: [Sealer.Operation]) {
        var batch = batch
        var returned: [[UInt8]] = []
        for i in batch.indices {
            switch batch[i] {
            case .opened(let inode, let size): state.opened(inode: inode, size: size)
            case .bytes(var bytes):
                batch[i] = .checkpoint(force: false)
                bytes.withUnsafeBytes { state.written($0) }
                // Handed back empty for the next write (its storage kept).
                bytes.removeAll(keepingCapacity: true)
                if returned.count < 8 { returned.append(bytes) }
            case .checkpoint(let force): state.checkpoint(force: force)
            case .close: state.close()
            }
        }
        let problems = state.takeProblems()
        let anchors = state.takeAnchors()
        shared.withLock {
            if $0.spare.isEmpty { $0.spare = returned }
            $0.problems += problems
            $0.anchors += anchors
        }
    }
}

/// A seal's state, on the sealing thread.
final class SealState {
    let logPath: String
    let sidecarPath: String
    private var key: SealKey
    private let interval: UInt64
    private var sidecar: Int32 = -1
    private var inode: UInt64 = 0
    private var segmentOffset = 0
    /// The segment's first line (0-based) and the hash it continues: what an anchor needs to stand alone.
    private var segmentLine = 0
    private var segmentPrevious = "-"
    private var previous = "-"
    private var hasher = SHA256()
    /// Whole lines and bytes of the file sealed so far (from its start).
    private var lines = 0
    private var offset = 0
    /// An unterminated line's bytes so far (a write that ended inside a line).
    private var partial: [UInt8] = []
    private var records: [UInt8] = []
    private var checkpointed = (lines: -1, offset: -1)
    private var lastCheckpoint: UInt64 = 0
    /// Problems for the daemon's own log (the caller reads and clears them).
    private(set) var problems: [String] = []
    /// One anchor message per checkpoint (the caller reads and clears them).
    private(set) var anchors: [String] = []

    /// The file's absolute path, as anchors name it (the sink may run with a relative `--root`).
    private let anchorPath: String

    init(logPath: String, key: SealKey, checkpointEvery interval: Duration) {
        self.logPath = logPath
        anchorPath = URL(fileURLWithPath: logPath).standardizedFileURL.path
        sidecarPath = logPath + Seal.sidecarSuffix
        self.key = key
        let (seconds, attoseconds) = interval.components
        self.interval = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        records.reserveCapacity(16 << 10)
    }

    deinit { close() }

    func takeProblems() -> [String] {
        defer { problems = [] }
        return problems
    }

    func takeAnchors() -> [String] {
        defer { anchors = [] }
        return anchors
    }

    /// The log file was opened (or reopened after a HUP): the sidecar is continued with a new segment when it
    /// describes this file up to its current end, or started afresh (the old one kept beside it, renamed) when
    /// the file is another one — rotated, truncated, replaced.
    func opened(inode: UInt64, size: Int) {
        self.inode = inode
        let lastState = SealFile.lastState(of: sidecarPath)
        var fresh = true
        previous = "-"
        if let lastState {
            previous = lastState.hash ?? "-"
            if lastState.inode == inode && lastState.offset <= size {
                fresh = false
            } else {
                let kept = sidecarPath + ".\(lastState.inode)"
                if rename(sidecarPath, kept) != 0 {
                    problems.append("seal: cannot keep the old \(sidecarPath) as \(kept)")
                }
            }
        }
        sidecar = Glibc.open(sidecarPath, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard sidecar >= 0 else {
            problems.append("seal: cannot open \(sidecarPath): \(String(cString: strerror(errno)))")
            return
        }
        if !fresh && !SealFile.cutUnfinishedRecord(descriptor: sidecar) {
            problems.append("seal: cannot cut the unfinished last record off \(sidecarPath)")
        }
        if fresh { records.append(contentsOf: Array((key.headerLine + "\n").utf8)) }
        // A segment starts where the file ends now; the lines before it are counted, not sealed again.
        offset = size
        lines = size == 0 ? 0 : SealFile.countLines(path: logPath, upTo: size)
        partial = []
        segmentOffset = size
        segmentLine = lines
        segmentPrevious = previous
        hasher = SHA256()
        hasher.update(data: Data(Seal.segmentPrefix(inode: inode, offset: size, previous: previous).utf8))
        records.append(contentsOf: Array("S \(inode) \(size) \(lines) \(previous)\n".utf8))
        checkpointed = (-1, -1)
        writeRecords()
    }

    /// Bytes the writer has just handed to the kernel for the log file.
    func written(_ bytes: UnsafeRawBufferPointer) {
        guard sidecar >= 0, !bytes.isEmpty else { return }
        hasher.update(bufferPointer: bytes)
        var start = 0
        let n = bytes.count
        while start < n {
            guard let base = bytes.baseAddress,
                let found = memchr(base + start, 0x0A, n - start)
            else {
                partial.append(contentsOf: bytes[start..<n])
                break
            }
            let end = base.distance(to: UnsafeRawPointer(found))
            let digest: UInt32
            if partial.isEmpty {
                digest = Seal.lineDigest(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            } else {
                partial.append(contentsOf: bytes[start..<end])
                digest = partial.withUnsafeBytes { Seal.lineDigest($0) }
                partial = []
            }
            appendHex(digest)
            lines += 1
            start = end + 1
        }
        offset += n
        checkpoint(force: false)
        writeRecords()
    }

    /// A signed checkpoint when one is due (or `force`) and something was written since the last one.
    func checkpoint(force: Bool) {
        evolveIfDue()
        guard sidecar >= 0, (lines, offset) != checkpointed else { return }
        let now = SealState.monotonicNow()
        guard force || now &- lastCheckpoint >= interval else { return }
        writeCheckpoint(at: now)
    }

    /// A forward-secure key whose epoch has ended: what was written under it is signed with it, then the next
    /// epoch's key replaces it, in memory and in its file (several steps after a stop). Runs on every tick, so a
    /// key is erased at its epoch's end even when nothing is written.
    private func evolveIfDue() {
        guard case .forwardSecure(var current, let file) = key else { return }
        let target = current.epoch(at: Int64(time(nil)))
        guard target > current.epoch else { return }
        if sidecar >= 0 && (lines, offset) != checkpointed { writeCheckpoint(at: SealState.monotonicNow()) }
        current.advance(to: target)
        key = .forwardSecure(current, file: file)
        if !current.persist(to: file) {
            problems.append(
                "seal: cannot write epoch \(current.epoch)'s key to \(file) (\(String(cString: strerror(errno)))): the "
                    + "previous epoch's key may still be in it")
        }
    }

    private func writeCheckpoint(at now: UInt64) {
        let hash = Seal.hex(hasher.finalize())
        let signature = key.sign(
            Seal.signedText(inode: inode, segmentOffset: segmentOffset, lines: lines, offset: offset, hash: hash))
        records.append(contentsOf: Array("C \(lines) \(offset) \(hash) \(signature)\n".utf8))
        anchors.append(
            SealAnchor(
                file: anchorPath, inode: inode, segmentOffset: segmentOffset, segmentLine: segmentLine,
                previous: segmentPrevious, lines: lines, offset: offset, hash: hash
            ).message)
        checkpointed = (lines, offset)
        lastCheckpoint = now
        previous = hash
        writeRecords()
    }

    /// The log file is closed (HUP, stop): a last checkpoint, and the sidecar closed.
    func close() {
        guard sidecar >= 0 else { return }
        checkpoint(force: true)
        Glibc.close(sidecar)
        sidecar = -1
    }

    /// Eight hex digits and a newline, in one append.
    private func appendHex(_ value: UInt32) {
        var digits: (UInt64, UInt8) = (0, 0x0A)
        var packed: UInt64 = 0
        for shift in stride(from: 28, through: 0, by: -4) {
            packed = packed >> 8 | UInt64(ASCII.lowerHexDigit(UInt8((value >> UInt32(shift)) & 15))) << 56
        }
        digits.0 = packed
        withUnsafeBytes(of: &digits) { records.append(contentsOf: $0[0..<9]) }
    }

    private func writeRecords() {
        guard sidecar >= 0, !records.isEmpty else { return }
        var done = 0
        while done < records.count {
            let n = records.withUnsafeBytes { Glibc.write(sidecar, $0.baseAddress.map { $0 + done }, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                problems.append("seal: cannot write \(sidecarPath): \(String(cString: strerror(errno)))")
                break
            }
            done += n
        }
        records.removeAll(keepingCapacity: true)
    }

    static func monotonicNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
