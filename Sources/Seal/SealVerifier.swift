import Crypto
import Foundation

/// Checks a log file against its sidecar: every checkpoint's chain recomputed from the file and its signature
/// checked, every sealed line's digest compared; what differs is located line by line.
public enum SealVerifier {
    public struct Problem: Hashable, Sendable, Codable {
        public enum Kind: String, Sendable, Codable {
            /// A sealed line whose bytes changed (line: where it is now).
            case modified
            /// A line that was not written by the sink (line: where it is now).
            case inserted
            /// A sealed line that is gone (sealedLine: where it was).
            case deleted
            /// A sealed line found at another place (line: where it is now, sealedLine: where it was).
            case reordered
            /// The file ends before sealed lines (sealedLine: the first missing one).
            case truncated
            /// A checkpoint's chain does not match the file, or its signature is wrong.
            case checkpoint
            /// The sidecar itself is damaged or its segments do not follow each other.
            case seal
            /// A checkpoint anchored off the host does not match the file (`SealAnchor`): caught by the anchors.
            case anchor
        }
        public var kind: Kind
        public var line: Int?
        public var sealedLine: Int?
        public var detail: String?
    }

    public struct Report: Sendable, Codable {
        public enum Status: String, Sendable, Codable {
            /// Every line sealed, covered by a valid checkpoint, unchanged.
            case ok
            /// No change found, but lines at the end (or between segments) are not covered by a checkpoint.
            case unsealed
            case tampered
        }
        public var file: String
        public var status: Status
        public var lines: Int
        public var sealedLines: Int
        public var checkpoints: Int
        /// Lines not covered by a signed checkpoint: written before sealing began, between segments (after a
        /// crash), or after the last checkpoint.
        public var uncoveredLines: [ClosedRange<Int>]
        public var problems: [Problem]
        /// Whose signatures were checked: the key given to the verifier, or only the one the sidecar names.
        public var key: String
        /// The chain's link to the file before (its last checkpoint's hash, `-` for none) and this file's last
        /// checkpoint: a rotated set is one sequence when each file starts where the one before ended.
        public var follows: String
        public var lastCheckpoint: String
        /// The sidecar ends inside a record: the sink was stopped while writing it (see
        /// `SealFile.unfinishedRecord`).
        public var unfinishedRecord = false
        /// Forward-secure seals: lines (1-based) first sealed more than an epoch after the time they carry — not
        /// vouched for by a seal of their own time — and what to say of them.
        public var lateLines: [ClosedRange<Int>] = []
        public var lateNote: String?
        /// Anchors checked (`--anchors`), nil when none were asked for; those that matched.
        public var anchors: Int?
        public var anchorsAgreeing: Int?

        /// A file without its sidecar, checked by its anchors alone: no line counts as sealed.
        public static func withoutSidecar(_ file: String) -> Report {
            Report(
                file: file, status: .unsealed, lines: 0, sealedLines: 0, checkpoints: 0, uncoveredLines: [], problems: [],
                key: "none (no seal file)", follows: "-", lastCheckpoint: "-")
        }

        /// Checks the anchors that name this file against its bytes: each that does not match is a problem, and
        /// the file is tampered whatever its sidecar says.
        public mutating func check(_ anchors: [SealAnchor], against data: Data) {
            self.anchors = anchors.count
            // The earliest anchor that does not match says where; the later ones only repeat it.
            let failing = anchors.compactMap { a in a.mismatch(in: data).map { (a, $0) } }.sorted { $0.0.lines < $1.0.lines }
            if let (first, why) = failing.first {
                problems.append(Problem(kind: .anchor, line: nil, sealedLine: first.lines, detail: why))
                status = .tampered
            }
            anchorsAgreeing = anchors.count - failing.count
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Verifies `path` against `path.seal`; `key` is the trusted key (nil: the sidecar's own public key, which
    /// proves only that the sidecar and the file agree).
    public static func verify(path: String, sealPath: String? = nil, key: SealVerificationKey?) throws -> Report {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "\(path): cannot read it")
        }
        return try verify(contents: data, of: path, sealPath: sealPath ?? findSidecar(for: path), key: key)
    }

    /// A sidecar beside `path` whose first sealed lines are the first lines of `data` (for a file the sink no
    /// longer knows by its inode: compressed, copied); nil when none is.
    public static func findSidecar(matching data: Data, near path: String) -> String? {
        let folder = (path as NSString).deletingLastPathComponent
        let prefix = folder.isEmpty ? "" : folder + "/"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
        var firstLines: [UInt32] = []
        data.withUnsafeBytes { bytes in
            var start = 0
            while firstLines.count < 8, start < bytes.count, let base = bytes.baseAddress {
                let end =
                    memchr(base + start, 0x0A, bytes.count - start).map { base.distance(to: UnsafeRawPointer($0)) }
                    ?? bytes.count
                firstLines.append(Seal.lineDigest(UnsafeRawBufferPointer(rebasing: bytes[start..<end])))
                start = end + 1
            }
        }
        // The sidecar that agrees with most of the first eight lines (an edit among them must not hide the pair).
        var best: (name: String, matches: Int)?
        for name in names.sorted() where name.contains(Seal.sidecarSuffix) {
            guard let seal = SealFile.read(path: prefix + name), let first = seal.segments.first, first.line == 0
            else { continue }
            let matches = zip(first.digests, firstLines).filter { $0 == $1 }.count
            if matches * 2 >= max(firstLines.count, 1), matches > (best?.matches ?? 0) { best = (name, matches) }
        }
        return best.map { prefix + $0.name }
    }

    /// Verifies `data` (the contents of `path`, inflated when it was compressed) against the sidecar `sealPath`.
    public static func verify(contents data: Data, of path: String, sealPath sidecar: String, key: SealVerificationKey?)
        throws -> Report
    {
        guard let seal = SealFile.read(path: sidecar) else {
            let reason =
                access(sidecar, F_OK) == 0
                ? "cannot read it (\(String(cString: strerror(errno))))"
                : "missing: \(path) has no seal beside it, so it cannot be checked. A sealed file has its sidecar "
                    + "FILE.seal written by the sink as it writes the file ($ActionFileSeal on, or seal=\"on\" on an "
                    + "omfile action); a rotated file keeps FILE.seal.INODE"
            throw Failure(description: "\(sidecar): \(reason)")
        }
        var problems: [Problem] = seal.damaged.map {
            Problem(kind: .seal, line: nil, sealedLine: nil, detail: "\(sidecar) line \($0) is not a seal record")
        }
        var keyName = "given"
        var verifier = key
        if verifier == nil {
            keyName = "the seal file's own (give --key to trust it)"
            if seal.algorithm == "ed25519", let text = seal.publicKey {
                verifier = try? SealVerificationKey(argument: text)
            }
        }
        // A forward-secure seal is checked only with its verification key (nothing public vouches for it).
        var chain: ForwardSecureVerifier?
        if seal.algorithm == ForwardSecureKey.algorithm {
            guard case .forwardSecure(let given)? = key else {
                throw Failure(
                    description: "\(sidecar): a forward-secure seal is checked with its verification key: give --key "
                        + "with the fss1-verify key logquery seal-key --forward-secure wrote")
            }
            chain = given
        }

        // The file's lines: (start, end) without the newline; a last line without one counts too.
        var bounds: [(Int, Int)] = []
        data.withUnsafeBytes { bytes in
            var start = 0
            let n = bytes.count
            while start < n {
                guard let base = bytes.baseAddress, let found = memchr(base + start, 0x0A, n - start) else {
                    bounds.append((start, n))
                    break
                }
                let end = base.distance(to: UnsafeRawPointer(found))
                bounds.append((start, end))
                start = end + 1
            }
        }
        let actual: [UInt32] = data.withUnsafeBytes { bytes in
            bounds.map { Seal.lineDigest(UnsafeRawBufferPointer(rebasing: bytes[$0.0..<$0.1])) }
        }

        // Checkpoints: each segment's chain recomputed over the file's bytes, signatures checked, segments linked.
        var covered: [ClosedRange<Int>] = []
        var checkpointCount = 0
        var lastHash = "-"
        var lastEpoch = 0
        // Lines (1-based) dated before the epoch that first sealed them, and the first such with its epoch.
        var late: [ClosedRange<Int>] = []
        var lateEpoch: (line: Int, epoch: Int, begins: Int64)?
        let currentEpoch = chain.map { c in Int((Int64(time(nil)) - c.start) / c.interval) } ?? 0
        for (index, segment) in seal.segments.enumerated() {
            if index > 0 && segment.previous != lastHash {
                problems.append(
                    Problem(
                        kind: .seal, line: nil, sealedLine: segment.line + 1,
                        detail: "segment \(index + 1) does not follow the previous checkpoint"))
            }
            var hasher = SHA256()
            hasher.update(
                data: Data(
                    Seal.segmentPrefix(inode: segment.inode, offset: segment.offset, previous: segment.previous)
                        .utf8))
            var at = segment.offset
            // After the first checkpoint that does not match, the later ones of the segment cannot either: one
            // report says it.
            var broken = false
            for checkpoint in segment.checkpoints {
                checkpointCount += 1
                guard checkpoint.offset <= data.count, at <= checkpoint.offset else {
                    problems.append(
                        Problem(
                            kind: .checkpoint, line: nil, sealedLine: checkpoint.lines,
                            detail: "the checkpoint at line \(checkpoint.lines) lies beyond the end of the file"))
                    continue
                }
                data.withUnsafeBytes {
                    hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[at..<checkpoint.offset]))
                }
                at = checkpoint.offset
                let hash = Seal.hex(hasher.finalize())
                let signed = Seal.signedText(
                    inode: segment.inode, segmentOffset: segment.offset, lines: checkpoint.lines,
                    offset: checkpoint.offset, hash: checkpoint.hash)
                if hash != checkpoint.hash {
                    if !broken {
                        problems.append(
                            Problem(
                                kind: .checkpoint, line: nil, sealedLine: checkpoint.lines,
                                detail: "the bytes up to line \(checkpoint.lines) are not the ones sealed"))
                    }
                    broken = true
                } else if !(verifier?.isValid(checkpoint.signature, for: signed) ?? false) {
                    problems.append(
                        Problem(
                            kind: .checkpoint, line: nil, sealedLine: checkpoint.lines,
                            detail: "the checkpoint at line \(checkpoint.lines) has no valid signature"))
                }
                if let chain, hash == checkpoint.hash, let (epoch, valid) = chain.check(checkpoint.signature, for: signed),
                    valid
                {
                    let found = Self.epochProblems(
                        epoch: epoch, after: lastEpoch, now: currentEpoch, chain: chain, checkpoint: checkpoint,
                        lines: (covered.last.map { max($0.upperBound, segment.line) } ?? segment.line)..<checkpoint.lines,
                        bounds: bounds, data: data)
                    problems += found.problems
                    for line in found.late {
                        if let last = late.last, last.upperBound + 1 == line {
                            late[late.count - 1] = last.lowerBound...line
                        } else {
                            late.append(line...line)
                        }
                    }
                    if let first = found.late.first, lateEpoch == nil { lateEpoch = (first, epoch, chain.begins(epoch)) }
                    lastEpoch = max(lastEpoch, epoch)
                }
                lastHash = checkpoint.hash
                if checkpoint.lines > segment.line { covered.append((segment.line + 1)...checkpoint.lines) }
            }
        }

        // Lines: the sealed digests (by their original line numbers) against the file's.
        var expected: [UInt32] = []
        var firstSealed = seal.segments.first?.line ?? 0
        firstSealed = min(firstSealed, actual.count)
        for segment in seal.segments {
            let position = firstSealed + expected.count
            if segment.line > position {
                // Lines written while nothing sealed (a crash between a write and its seal): taken as they are.
                let gapEnd = min(segment.line, actual.count)
                if position < gapEnd { expected.append(contentsOf: actual[position..<gapEnd]) }
            }
            expected.append(contentsOf: segment.digests)
        }
        let now = Array(actual[firstSealed...])
        problems += locate(expected: expected, actual: now, base: firstSealed)

        let lastCovered = covered.map(\.upperBound).max() ?? 0
        var uncovered: [ClosedRange<Int>] = []
        if firstSealed > 0 { uncovered.append(1...firstSealed) }
        if actual.count > lastCovered && problems.isEmpty { uncovered.append((lastCovered + 1)...actual.count) }
        let status: Report.Status = !problems.isEmpty ? .tampered : (uncovered.isEmpty && late.isEmpty ? .ok : .unsealed)
        var report = Report(
            file: path, status: status, lines: actual.count,
            sealedLines: seal.segments.reduce(0) { $0 + $1.digests.count }, checkpoints: checkpointCount,
            uncoveredLines: uncovered, problems: problems, key: keyName,
            follows: seal.segments.first?.previous ?? "-", lastCheckpoint: lastHash,
            unfinishedRecord: seal.unfinishedRecord)
        report.lateLines = late
        if let lateEpoch {
            report.lateNote =
                "first sealed in epoch \(lateEpoch.epoch) (from \(LineStamp.text(lateEpoch.begins))), more than an epoch after the "
                + "time they carry: sealed again later with a key the host still had, or they reached the sink that late"
        }
        return report
    }

    /// What a forward-secure checkpoint's epoch says: epochs only go forward along a file and none lies in the
    /// future (its key can be made from today's, so one there was signed by whoever holds today's) — problems; and
    /// which of the lines it is the first to cover (0-based `lines`) are dated more than an epoch before it — a
    /// line from before the epoch whose key signed it was sealed again later with a key still on the host, or
    /// reached the sink that late: not vouched for, returned as 1-based numbers.
    static func epochProblems(
        epoch: Int, after lastEpoch: Int, now: Int, chain: ForwardSecureVerifier, checkpoint: SealFile.Checkpoint,
        lines: Range<Int>, bounds: [(Int, Int)], data: Data
    ) -> (problems: [Problem], late: [Int]) {
        if epoch < lastEpoch {
            let detail = "the checkpoint at line \(checkpoint.lines) is signed in epoch \(epoch), after one in epoch \(lastEpoch)"
            return ([Problem(kind: .checkpoint, line: nil, sealedLine: checkpoint.lines, detail: detail)], [])
        }
        if epoch > now + 1 {
            let detail = "the checkpoint at line \(checkpoint.lines) is signed with the key of epoch \(epoch), which has not begun"
            return ([Problem(kind: .checkpoint, line: nil, sealedLine: checkpoint.lines, detail: detail)], [])
        }
        let earliest = chain.begins(epoch) - chain.interval
        var late: [Int] = []
        for index in lines where index < bounds.count {
            let (start, end) = bounds[index]
            let stamp = data.withUnsafeBytes {
                LineStamp.seconds(UnsafeRawBufferPointer(rebasing: $0[start..<min(end, start + 40)]), near: chain.begins(epoch))
            }
            if let stamp, stamp < earliest { late.append(index + 1) }
        }
        return ([], late)
    }

    /// FILE.seal when it describes FILE (same inode); else, for a rotated file, the sidecar the sink kept when the
    /// file was rotated away: FILE's folder's `*.seal.<inode>` for FILE's inode.
    public static func findSidecar(for path: String) -> String {
        let direct = path + Seal.sidecarSuffix
        var info = stat()
        guard stat(path, &info) == 0 else { return direct }
        let inode = UInt64(info.st_ino)
        if let described = SealFile.read(path: direct)?.segments.last?.inode, described == inode { return direct }
        let folder = (path as NSString).deletingLastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
        if let kept = names.first(where: { $0.hasSuffix("\(Seal.sidecarSuffix).\(inode)") }) {
            return (folder.isEmpty ? "" : folder + "/") + kept
        }
        return direct
    }

    /// The differences between the sealed digests and the file's, as edits at line numbers (1-based, offset by
    /// `base` lines before the first sealed one).
    static func locate(expected: [UInt32], actual: [UInt32], base: Int) -> [Problem] {
        var head = 0
        while head < expected.count && head < actual.count && expected[head] == actual[head] { head += 1 }
        if head == expected.count { return [] }  // lines after the sealed ones: reported as not covered
        if head == actual.count {
            return [Problem(kind: .truncated, line: nil, sealedLine: base + head + 1, detail: nil)]
        }
        var tail = 0
        while tail < expected.count - head && tail < actual.count - head
            && expected[expected.count - 1 - tail] == actual[actual.count - 1 - tail]
        {
            tail += 1
        }
        let a = Array(expected[head..<(expected.count - tail)])
        let b = Array(actual[head..<(actual.count - tail)])
        guard a.count * b.count <= 16_000_000 else {
            return [
                Problem(
                    kind: .modified, line: base + head + 1, sealedLine: base + head + 1,
                    detail: "lines \(base + head + 1)–\(base + head + b.count) differ from the sealed ones")
            ]
        }
        // Longest common subsequence, then the edit script: deletions and insertions; a deletion and an insertion
        // at the same place are a modified line; a deleted line found among the inserted ones moved.
        var table = [[UInt16]](repeating: [UInt16](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] &+ 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var deleted: [(sealed: Int, digest: UInt32)] = []
        var inserted: [(line: Int, digest: UInt32)] = []
        var problems: [Problem] = []
        /// Deletions (true) and insertions left unpaired: (line, digest, deleted).
        var pending: [(Int, UInt32, Bool)] = []
        var i = 0
        var j = 0
        func settle() {
            let pairs = min(deleted.count, inserted.count)
            for k in 0..<pairs {
                problems.append(
                    Problem(kind: .modified, line: inserted[k].line, sealedLine: deleted[k].sealed, detail: nil))
            }
            pending.append(contentsOf: deleted.dropFirst(pairs).map { ($0.sealed, $0.digest, true) })
            pending.append(contentsOf: inserted.dropFirst(pairs).map { ($0.line, $0.digest, false) })
            deleted = []
            inserted = []
        }
        while i < a.count || j < b.count {
            if i < a.count && j < b.count && a[i] == b[j] {
                settle()
                i += 1
                j += 1
            } else if j < b.count && (i == a.count || table[i][j + 1] >= table[i + 1][j]) {
                inserted.append((base + head + j + 1, b[j]))
                j += 1
            } else {
                deleted.append((base + head + i + 1, a[i]))
                i += 1
            }
        }
        settle()
        // Lines deleted in one place and inserted in another: reordered.
        var removed = pending.filter(\.2)
        for insertion in pending where !insertion.2 {
            if let k = removed.firstIndex(where: { $0.1 == insertion.1 }) {
                problems.append(Problem(kind: .reordered, line: insertion.0, sealedLine: removed[k].0, detail: nil))
                removed.remove(at: k)
            } else {
                problems.append(Problem(kind: .inserted, line: insertion.0, sealedLine: nil, detail: nil))
            }
        }
        for deletion in removed {
            problems.append(Problem(kind: .deleted, line: nil, sealedLine: deletion.0, detail: nil))
        }
        return problems.sorted { ($0.line ?? $0.sealedLine ?? 0) < ($1.line ?? $1.sealedLine ?? 0) }
    }
}
