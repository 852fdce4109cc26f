import ArgumentParser
import Foundation
import LogQuery
import Seal

/// `logquery verify FILE…`: is each sealed file what the sink wrote?
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check sealed log files against their FILE.seal sidecars.",
        discussion: """
            A file the sink sealed ($ActionFileSeal on, or seal="on" on an omfile action) has a sidecar FILE.seal: \
            a digest of every line and signed checkpoints over a SHA-256 chain. verify recomputes the chain from \
            the file, checks each signature and compares the lines, then says OK or which lines were modified, \
            inserted, deleted, reordered or cut off, and which lines no signed checkpoint covers (written before \
            sealing began, or after the last checkpoint: a crash). Several files are a rotated set, oldest first: \
            each must continue the chain of the one before. --anchors checks the file against the checkpoints the \
            sink sent off the host (its audit: seal checkpoint messages, filed by a central collector): a rewrite \
            of anything anchored is caught even when the sidecar was made again with the key on the host. A \
            rotated file's sidecar is found by its inode \
            (FILE.seal.INODE, kept by the sink when the file was rotated away); a compressed one (.gz) is inflated \
            in memory and paired with the sidecar beside it that starts with its lines. Give the public key (--key, as logquery seal-key \
            wrote it) to trust the signatures; without it only the sidecar's own key is used, which proves that \
            file and sidecar agree, not who wrote them. Exit status: 0 OK, 1 tampered, 3 lines not covered, \
            2 cannot verify.
            """)

    @Argument(help: "Sealed log files (each with FILE.seal beside it).")
    var files: [String]

    @Option(help: "The trusted key: an Ed25519 public key (64 hex digits, or a file holding them), or hmac:HEX.")
    var key: String?

    @Option(
        help: ArgumentHelp(
            "A collector's log holding the sink's anchors (audit: seal checkpoint …): each anchor of a file is checked against its bytes (repeatable).",
            discussion: "An anchor names the file by its inode: verify the files on the host that sealed them."))
    var anchors: [String] = []

    @Option(name: .long, help: "Output format: text or json.")
    var format = "text"

    mutating func validate() throws {
        guard ["text", "json"].contains(format) else { throw ValidationError("--format is text or json") }
    }

    mutating func run() throws {
        let trusted: SealVerificationKey?
        do {
            trusted = try key.map { try SealVerificationKey(argument: $0) }
        } catch {
            throw ValidationError("--key: \(error)")
        }
        var anchored: [SealAnchor] = []
        for path in anchors {
            do {
                anchored += SealAnchor.all(in: String(decoding: try fileContents(path), as: UTF8.self))
            } catch {
                throw ValidationError("--anchors: cannot read \(path): \(error)")
            }
        }
        let givenInodes = Set(files.compactMap(Self.inode))
        var worst: Int32 = 0
        var reports: [SealVerifier.Report] = []
        for file in files {
            do {
                var report: SealVerifier.Report
                if file.hasSuffix(".gz") {
                    // A compressed rotated file: inflated in memory, its sidecar found by its first lines.
                    let data = Data(try fileContents(file))
                    guard let sidecar = SealVerifier.findSidecar(matching: data, near: file) else {
                        throw SealVerifier.Failure(description: "\(file): no seal file beside it starts with its lines")
                    }
                    report = try SealVerifier.verify(contents: data, of: file, sealPath: sidecar, key: trusted)
                } else if !anchors.isEmpty && access(SealVerifier.findSidecar(for: file), F_OK) != 0 {
                    // No sidecar (deleted?): the anchors alone say whether the file is what left the host.
                    report = .withoutSidecar(file)
                } else {
                    report = try SealVerifier.verify(path: file, key: trusted)
                }
                if !anchors.isEmpty {
                    // A file's anchors: those of its inode, and those of its path whose inode is none of the files
                    // given (the file the path held before: `sed -i` and other replacements make a new inode, and
                    // so does a rotation, whose older file should then be given too).
                    let inode = Self.inode(file)
                    let path = URL(fileURLWithPath: file).standardizedFileURL.path
                    let mine = anchored.filter {
                        $0.inode == inode || $0.file == path && !givenInodes.contains($0.inode)
                    }
                    report.check(mine, against: Data(try fileContents(file)))
                    if report.status == .ok && mine.isEmpty { report.status = .unsealed }
                }
                reports.append(report)
                let code: Int32 =
                    switch report.status {
                    case .ok: 0
                    case .unsealed: 3
                    case .tampered: 1
                    }
                worst = worst == 1 || code == 1 ? 1 : max(worst, code)
                if format == "text" { print(Verify.describe(report)) }
            } catch {
                FileHandle.standardError.write(Data("logquery verify: \(error)\n".utf8))
                if worst == 0 { worst = 2 }
            }
        }
        // A rotated set, oldest first: each file's chain must start at the previous file's last checkpoint.
        for (older, newer) in zip(reports, reports.dropFirst()) where newer.follows != older.lastCheckpoint {
            let text = "\(newer.file) does not follow \(older.file): a file of the set is missing or was replaced"
            if format == "text" { print(text) }
            FileHandle.standardError.write(Data("logquery verify: \(text)\n".utf8))
            worst = 1
        }
        if format == "json" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = try encoder.encode(reports)
            print(String(decoding: data, as: UTF8.self))
        }
        if worst != 0 { throw ExitCode(worst) }
    }

    /// The inode of a file on disk (nil for a compressed rotated file: a new file, never the one anchored).
    static func inode(_ file: String) -> UInt64? {
        var info = stat()
        return file.hasSuffix(".gz") || stat(file, &info) != 0 ? nil : UInt64(info.st_ino)
    }

    static func describe(_ report: SealVerifier.Report) -> String {
        var text: String
        switch report.status {
        case .ok:
            text = "\(report.file): OK (\(report.lines) lines sealed, \(report.checkpoints) checkpoints)"
        case .unsealed where !report.lateLines.isEmpty:
            text = "\(report.file): NOT VOUCHED FOR: lines sealed after their time (see below)"
        case .unsealed:
            text = "\(report.file): no change found, but not every line is covered by a signed checkpoint"
        case .tampered:
            text = "\(report.file): TAMPERED"
        }
        for problem in report.problems {
            let place: String
            switch problem.kind {
            case .modified: place = "line \(problem.line ?? 0): modified"
            case .inserted: place = "line \(problem.line ?? 0): inserted (not written by the sink)"
            case .deleted: place = "sealed line \(problem.sealedLine ?? 0): deleted"
            case .reordered:
                place = "line \(problem.line ?? 0): moved (it was sealed as line \(problem.sealedLine ?? 0))"
            case .truncated: place = "cut off from sealed line \(problem.sealedLine ?? 0) on"
            case .checkpoint, .seal: place = problem.detail ?? problem.kind.rawValue
            case .anchor: place = "caught by the anchors: " + (problem.detail ?? "an anchor does not match")
            }
            text += "\n  " + place + (problem.detail.map { problem.kind == .modified ? " (\($0))" : "" } ?? "")
        }
        for range in report.lateLines {
            text += "\n  lines \(range.lowerBound)–\(range.upperBound): " + (report.lateNote ?? "sealed late")
        }
        for range in report.uncoveredLines {
            text +=
                "\n  lines \(range.lowerBound)–\(range.upperBound): not covered by a signed checkpoint"
        }
        if let checked = report.anchors {
            let agreeing = report.anchorsAgreeing ?? 0
            text +=
                checked == 0
                ? "\n  no anchor names this file (its inode): nothing off the host vouches for it"
                : "\n  anchors: \(agreeing) of \(checked) agree"
        }
        if report.unfinishedRecord {
            text += "\n  the seal file ends inside a record: the sink was stopped while writing it (set aside)"
        }
        if report.key != "given" { text += "\n  signatures checked with \(report.key)" }
        return text
    }
}

/// `logquery seal-key`: makes the Ed25519 key pair a sealed file action signs with, or a forward-secure chain.
struct SealKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal-key",
        abstract: "Make the keys for sealing: the private key for the sink, the one verify checks with.",
        discussion: """
            By default an Ed25519 key pair: the sink signs with the private key, anyone checks with the public one. \
            With --forward-secure, a chain of keys, one per epoch (--epoch, 15m unless set): the sink's key file \
            holds the current epoch's key only and is rewritten at each epoch's end, so a key taken from the host \
            cannot sign anything older; --public-key then receives the verification key (the chain's first key, \
            from which every epoch's is made): keep it off the host, as secret as the logs are precious.
            """)

    @Option(help: "Where to write the sink's key (created with mode 0600; never overwritten).")
    var privateKey: String

    @Option(help: "Where to write the key verify checks with (the public key; with --forward-secure, the secret verification key, mode 0600).")
    var publicKey: String

    @Flag(help: "Make a forward-secure key chain instead of an Ed25519 pair.")
    var forwardSecure = false

    @Option(help: "With --forward-secure: how long each key lasts (30s, 15m, 1h; at least 1s).")
    var epoch = "15m"

    mutating func validate() throws {
        guard let ms = Duration.milliseconds(epoch), ms >= 1000 else {
            throw ValidationError("--epoch takes a time of at least 1s, like 15m or 1h, not '\(epoch)'")
        }
    }

    mutating func run() throws {
        let secret: String
        let shared: String
        if forwardSecure {
            let interval = Int64((Duration.milliseconds(epoch) ?? 900_000) / 1000)
            (secret, shared) = ForwardSecureKey.generate(interval: interval)
        } else {
            let (privateKey, publicKey) = SealKey.generate()
            (secret, shared) = (privateKey + "\n", publicKey + "\n")
        }
        try Self.create(privateKey, secret)
        if forwardSecure {
            try Self.create(publicKey, shared)
            print("forward-secure key chain, epochs of \(epoch): keep \(publicKey) off this host")
        } else {
            try shared.write(toFile: publicKey, atomically: true, encoding: .utf8)
            print("public key: \(shared.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Writes a secret to a new file only its owner reads.
    static func create(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
}
