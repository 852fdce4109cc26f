import Foundation
import PropertyBased
import Seal
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Sealed files as the sink writes them (a Sealer told of each write), then edited as an intruder would: verify
/// must say exactly what changed.
@Suite("Sealed log files and logquery verify")
struct SealTests {
    static let keys = SealKey.generate()

    /// Writes `lines` (each with its newline) to `path` in chunks of `chunk` lines, sealing each write; the seal is
    /// closed (last checkpoint) unless `close` is false.
    static func write(_ lines: [String], to path: String, chunk: Int = 7, close: Bool = true) throws -> Sealer {
        let key = try SealKey.init(file: keyFile())
        let sealer = Sealer(logPath: path, key: key, checkpointEvery: .zero)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        defer { Glibc.close(fd) }
        sealer.opened(logDescriptor: fd)
        var i = 0
        while i < lines.count {
            let bytes = Array(lines[i..<min(i + chunk, lines.count)].joined().utf8)
            bytes.withUnsafeBytes { raw in
                let n = Glibc.write(fd, raw.baseAddress, raw.count)
                sealer.written(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
            }
            i += chunk
        }
        if close { sealer.close() }
        return sealer
    }

    static func keyFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/tollgate-seal-test-\(getpid()).key"
        if !FileManager.default.fileExists(atPath: path) {
            try keys.privateKey.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return path
    }

    static var trusted: SealVerificationKey {
        get throws { try SealVerificationKey(argument: keys.publicKey) }
    }

    static func sampleLines(_ count: Int) -> [String] {
        (1...count).map {
            "Nov 26 08:51:\(String(format: "%02d", $0 % 60)) host haproxy[6296]: 10.0.0.\($0 % 250):\(40000 + $0) "
                + "[26/Nov/2026:08:51:02.\(String(format: "%03d", $0 % 1000))] fe be/s\($0 % 3) 0/0/\($0) 10 -- 1/1/0/0/0 0/0\n"
        }
    }

    /// The file's lines (without newlines) after an edit.
    static func edit(_ path: String, _ change: (inout [String]) -> Void) throws {
        var lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        change(&lines)
        try (lines.map { $0 + "\n" }.joined()).write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// A sealed file in a folder of its own (removed when the value goes).
    struct Sealed {
        let dir: TemporaryDirectory
        var path: String { dir.file("haproxy.log") }
    }

    func sealed(_ count: Int = 100) throws -> Sealed {
        let sealed = Sealed(dir: try TemporaryDirectory(prefix: "seal"))
        _ = try Self.write(Self.sampleLines(count), to: sealed.path)
        return sealed
    }

    @Test func anUntouchedFileVerifies() throws {
        let pathSeal = try sealed()
        let path = pathSeal.path
        let report = try SealVerifier.verify(path: path, key: try Self.trusted)
        #expect(report.status == .ok && report.problems.isEmpty && report.uncoveredLines.isEmpty)
        #expect(report.lines == 100 && report.sealedLines == 100 && report.checkpoints > 1)
    }

    @Test func oneChangedByteNamesItsLine() throws {
        let pathSeal = try sealed()
        let path = pathSeal.path
        try Self.edit(path) { $0[41] = $0[41].replacingOccurrences(of: " -- ", with: " SD ") }
        let report = try SealVerifier.verify(path: path, key: try Self.trusted)
        #expect(report.status == .tampered)
        #expect(report.problems.contains { $0.kind == .modified && $0.line == 42 }, "\(report.problems)")
        #expect(report.problems.contains { $0.kind == .checkpoint }, "the chain breaks at the next checkpoint")
    }

    @Test func insertedDeletedReorderedAndTruncatedLinesAreNamed() throws {
        let aSeal = try sealed()
        let a = aSeal.path
        try Self.edit(a) { $0.insert("Nov 26 08:51:02 host haproxy[6296]: forged", at: 10) }
        let inserted = try SealVerifier.verify(path: a, key: try Self.trusted)
        #expect(inserted.problems.contains { $0.kind == .inserted && $0.line == 11 }, "\(inserted.problems)")

        let bSeal = try sealed()
        let b = bSeal.path
        try Self.edit(b) { $0.remove(at: 60) }
        let deleted = try SealVerifier.verify(path: b, key: try Self.trusted)
        #expect(deleted.problems.contains { $0.kind == .deleted && $0.sealedLine == 61 }, "\(deleted.problems)")
        #expect(!deleted.problems.contains { $0.kind == .modified || $0.kind == .inserted })

        let cSeal = try sealed()
        let c = cSeal.path
        try Self.edit(c) { $0.swapAt(20, 70) }
        let moved = try SealVerifier.verify(path: c, key: try Self.trusted)
        #expect(moved.status == .tampered)
        #expect(
            moved.problems.contains { ($0.kind == .reordered || $0.kind == .modified) && $0.line == 21 },
            "\(moved.problems)")

        let dSeal = try sealed()
        let d = dSeal.path
        try Self.edit(d) { $0.removeLast(5) }
        let cut = try SealVerifier.verify(path: d, key: try Self.trusted)
        #expect(cut.problems.contains { $0.kind == .truncated && $0.sealedLine == 96 }, "\(cut.problems)")
    }

    @Test func linesAfterTheLastCheckpointAreReportedAsNotCovered() throws {
        let dir = try TemporaryDirectory(prefix: "seal")
        let path = dir.file("haproxy.log")
        _ = try Self.write(Self.sampleLines(30), to: path)
        // Appended by someone else (or written by a sink killed before it sealed them).
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("Nov 26 09:00:00 host haproxy[1]: appended\n".utf8))
        try handle.close()
        let report = try SealVerifier.verify(path: path, key: try Self.trusted)
        #expect(report.status == .unsealed && report.problems.isEmpty)
        #expect(report.uncoveredLines == [31...31])
    }

    @Test func aForgedSidecarOrAnotherKeyFails() throws {
        let pathSeal = try sealed()
        let path = pathSeal.path
        // The intruder edits a line and its digest in the sidecar: the signed chain still catches it.
        try Self.edit(path) { $0[5] = $0[5].replacingOccurrences(of: "haproxy", with: "haprozy") }
        var seal = try String(contentsOfFile: path + ".seal", encoding: .utf8).components(separatedBy: "\n")
        let lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
        let digest = Array(lines[5].utf8).withUnsafeBytes { Seal.lineDigest($0) }
        // The sixth digest record: after the header and the segment line.
        seal[2 + 5] = String(format: "%08x", digest)
        try seal.joined(separator: "\n").write(toFile: path + ".seal", atomically: false, encoding: .utf8)
        let report = try SealVerifier.verify(path: path, key: try Self.trusted)
        #expect(report.status == .tampered && report.problems.contains { $0.kind == .checkpoint })

        let cleanSeal = try sealed()
        let clean = cleanSeal.path
        let stranger = try SealVerificationKey(argument: SealKey.generate().publicKey)
        let wrongKey = try SealVerifier.verify(path: clean, key: stranger)
        #expect(wrongKey.status == .tampered, "signatures by another key are not trusted")
    }

    @Test func aSealContinuesAcrossRestartsAndStartsAnewForANewFile() throws {
        let dir = try TemporaryDirectory(prefix: "seal")
        let path = dir.file("haproxy.log")
        _ = try Self.write(Array(Self.sampleLines(40)[..<20]), to: path)
        _ = try Self.write(Array(Self.sampleLines(40)[20...]), to: path)  // the sink started again
        let both = try SealVerifier.verify(path: path, key: try Self.trusted)
        #expect(both.status == .ok && both.lines == 40, "\(both)")
        // Rotated away (renamed) and a new file: the old sidecar is kept, named after the old file's inode.
        try FileManager.default.moveItem(atPath: path, toPath: dir.file("haproxy.log.1"))
        _ = try Self.write(Self.sampleLines(5), to: path)
        let fresh = try SealVerifier.verify(path: path, key: try Self.trusted)
        #expect(fresh.status == .ok && fresh.lines == 5)
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
            $0.hasPrefix("haproxy.log.seal.")
        }
        #expect(kept.count == 1)
        // verify finds the kept sidecar by the rotated file's inode.
        #expect(SealVerifier.findSidecar(for: dir.file("haproxy.log.1")) == dir.file(try #require(kept.first)))
        let old = try SealVerifier.verify(path: dir.file("haproxy.log.1"), key: try Self.trusted)
        #expect(old.status == .ok && old.lines == 40)
        #expect(fresh.follows == old.lastCheckpoint, "the new file's chain starts where the rotated one ended")
        #expect(old.follows == "-")
    }

    /// kill -9 inside the sidecar's write (Linux cuts a large write short on a fatal signal): the record left
    /// without its newline is set aside, never taken for tampering; the next start cuts it off and continues.
    @Test(arguments: [3, 9, 30])
    func aSidecarCutInsideARecordIsNotTampering(cut: Int) throws {
        let dir = try TemporaryDirectory(prefix: "seal")
        let path = dir.file("haproxy.log")
        _ = try Self.write(Array(Self.sampleLines(40)[..<20]), to: path)
        let sidecar = path + Seal.sidecarSuffix
        // A torn last record: a digest, a checkpoint or a segment header cut `cut` bytes in.
        let handle = try #require(FileHandle(forWritingAtPath: sidecar))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("C 20 4000 \(String(repeating: "ab", count: 32)) signature".utf8.prefix(cut)))
        try handle.close()
        let torn = try SealVerifier.verify(path: path, key: try Self.trusted)
        #expect(torn.status == .ok && torn.problems.isEmpty && torn.unfinishedRecord, "\(torn)")
        // The sink starts again: the torn record is cut off, the new segment follows the last checkpoint.
        _ = try Self.write(Array(Self.sampleLines(40)[20...]), to: path)
        let continued = try SealVerifier.verify(path: path, key: try Self.trusted)
        #expect(continued.status == .ok && continued.lines == 40 && !continued.unfinishedRecord, "\(continued)")
        #expect(try SealFile.read(path: sidecar).map(\.damaged) == [])
    }

    /// The HMAC fallback: the same secret seals and verifies; another secret does not.
    @Test func hmacKeysSealAndVerify() throws {
        let dir = try TemporaryDirectory(prefix: "seal-hmac")
        let secret = "hmac:" + String(repeating: "5a", count: 32)
        try secret.write(toFile: dir.file("hmac.key"), atomically: true, encoding: .utf8)
        let path = dir.file("haproxy.log")
        let sealer = Sealer(logPath: path, key: try SealKey(file: dir.file("hmac.key")), checkpointEvery: .zero)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        sealer.opened(logDescriptor: fd)
        let bytes = Array(Self.sampleLines(20).joined().utf8)
        bytes.withUnsafeBytes { raw in
            _ = Glibc.write(fd, raw.baseAddress, raw.count)
            sealer.written(raw)
        }
        sealer.close()
        Glibc.close(fd)
        #expect(
            try String(contentsOfFile: path + ".seal", encoding: .utf8).hasPrefix("tollgate-seal 1 hmac-sha256 -\n"))
        let good = try SealVerifier.verify(path: path, key: try SealVerificationKey(argument: secret))
        #expect(good.status == .ok && good.lines == 20)
        let other = try SealVerifier.verify(
            path: path, key: try SealVerificationKey(argument: "hmac:" + String(repeating: "a5", count: 32)))
        #expect(other.status == .tampered, "another secret does not verify")
        let none = try SealVerifier.verify(path: path, key: nil)
        #expect(none.status == .tampered, "an HMAC seal cannot be checked without its secret")
    }

    /// Three files rotated one after the other verify as one chain, oldest first; without the middle one the set
    /// does not follow.
    @Test func aRotatedSetOfThreeVerifiesAsOneChain() throws {
        let dir = try TemporaryDirectory(prefix: "seal-rotated")
        let path = dir.file("haproxy.log")
        let lines = Self.sampleLines(90)
        _ = try Self.write(Array(lines[0..<30]), to: path)
        try FileManager.default.moveItem(atPath: path, toPath: dir.file("haproxy.log.2"))
        _ = try Self.write(Array(lines[30..<60]), to: path)
        try FileManager.default.moveItem(atPath: path, toPath: dir.file("haproxy.log.1"))
        _ = try Self.write(Array(lines[60..<90]), to: path)
        let keyFile = dir.file("seal.pub")
        try Self.keys.publicKey.write(toFile: keyFile, atomically: true, encoding: .utf8)
        let logquery = try Products.path("logquery")
        let set = [dir.file("haproxy.log.2"), dir.file("haproxy.log.1"), path]
        let whole = try Peers.run(logquery, ["verify", "--key", keyFile] + set)
        let text = String(decoding: whole.stdout, as: UTF8.self)
        #expect(whole.status == 0, "\(text)")
        #expect(text.components(separatedBy: ": OK (30 lines sealed").count == 4, "\(text)")
        let json = try Peers.run(logquery, ["verify", "--format", "json", "--key", keyFile] + set)
        let reports = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]])
        #expect(reports.map { $0["status"] as? String } == ["ok", "ok", "ok"])
        #expect(reports.map { $0["lines"] as? Int } == [30, 30, 30])
        let gap = try Peers.run(logquery, ["verify", "--key", keyFile, set[0], set[2]])
        #expect(gap.status == 1)
        #expect(String(decoding: gap.stdout, as: UTF8.self).contains("does not follow"))
        // logrotate's compress: the oldest as .gz (a new file, a new inode) still verifies within the set, and an
        // edit inside it is found.
        #expect(try Peers.run("/bin/gzip", [set[0]]).status == 0)
        let compressed = [set[0] + ".gz", set[1], set[2]]
        let withGzip = try Peers.run(logquery, ["verify", "--key", keyFile] + compressed)
        #expect(withGzip.status == 0, "\(String(decoding: withGzip.stdout + withGzip.stderr, as: UTF8.self))")
        #expect(try Peers.run("/bin/gzip", ["-d", compressed[0]]).status == 0)
        try Self.edit(set[0]) { $0[1] = $0[1].replacingOccurrences(of: "be/s", with: "be/x") }
        #expect(try Peers.run("/bin/gzip", [set[0]]).status == 0)
        let editedGzip = try Peers.run(logquery, ["verify", "--key", keyFile, compressed[0]])
        #expect(editedGzip.status == 1)
        #expect(String(decoding: editedGzip.stdout, as: UTF8.self).contains("line 2: modified"))
    }

    /// Any edit of a sealed file — a byte changed, a line added, removed or swapped, the end cut — is detected.
    @Test func randomEditsAreAlwaysDetected() async throws {
        let lines = Self.sampleLines(60)
        let dir = try TemporaryDirectory(prefix: "seal-random")
        let original = dir.file("original.log")
        _ = try Self.write(lines, to: original)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: original))
        let seal = try Data(contentsOf: URL(fileURLWithPath: original + ".seal"))
        let key = try Self.trusted
        await propertyCheck(
            count: 150, input: Gen.int(in: 0...4), Gen.int(in: 0...(bytes.count - 1)), Gen.int(in: 1...255)
        ) {
            kind, position, value in
            var edited = [UInt8](bytes)
            switch kind {
            case 0: edited[position] = edited[position] &+ UInt8(value)  // a byte changed
            case 1: edited.insert(UInt8(value), at: position)  // a byte inserted
            case 2: edited.remove(at: position)  // a byte removed
            case 3: edited.removeLast(max(1, position % 50))  // the end cut
            default:  // two lines swapped
                var text = String(decoding: edited, as: UTF8.self).components(separatedBy: "\n")
                let i = position % 59
                let j = (i + 1 + value % 58) % 59
                if text[i] == text[j] { text[i] += "x" }
                text.swapAt(i, j)
                edited = Array(text.joined(separator: "\n").utf8)
            }
            let path = dir.file("edited-\(kind)-\(position)-\(value).log")
            try? Data(edited).write(to: URL(fileURLWithPath: path))
            try? seal.write(to: URL(fileURLWithPath: path + ".seal"))
            let report = try? SealVerifier.verify(path: path, key: key)
            #expect(report?.status == .tampered, "edit \(kind) at \(position): \(String(describing: report?.problems))")
            unlink(path)
            unlink(path + ".seal")
        }
    }
}
