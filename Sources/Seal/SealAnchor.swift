import Crypto
import Foundation

/// A checkpoint sent off the host: the sink logs one for each checkpoint it writes, as a short message of its own
/// (`audit: seal checkpoint …`) that its rules forward like any other, so the central collector files it in a log of
/// its own. An anchor holds everything needed to check the file's bytes it covers without the sidecar: the segment's
/// start (inode, byte, line, the hash it continues) and the chain's value after `lines` lines, `offset` bytes. An
/// intruder who rewrites the file and makes a new sidecar with the key on the host cannot change what already left.
///
///     audit: seal checkpoint inode=1311 segment=0 line=0 previous=- lines=4821 offset=912345 sha256=<64 hex> file=/var/log/haproxy.log
///
/// `file=` comes last and runs to the end of the message (a path may hold spaces).
public struct SealAnchor: Hashable, Sendable {
    public var file: String
    public var inode: UInt64
    public var segmentOffset: Int
    public var segmentLine: Int
    public var previous: String
    public var lines: Int
    public var offset: Int
    public var hash: String

    static let marker = "audit: seal checkpoint "

    public init(
        file: String, inode: UInt64, segmentOffset: Int, segmentLine: Int, previous: String, lines: Int, offset: Int,
        hash: String
    ) {
        self.file = file
        self.inode = inode
        self.segmentOffset = segmentOffset
        self.segmentLine = segmentLine
        self.previous = previous
        self.lines = lines
        self.offset = offset
        self.hash = hash
    }

    /// The message the sink logs.
    public var message: String {
        "\(Self.marker)inode=\(inode) segment=\(segmentOffset) line=\(segmentLine) previous=\(previous) lines=\(lines) "
            + "offset=\(offset) sha256=\(hash) file=\(file)"
    }

    /// The anchor in a stored log line (a collector's file: any syslog prefix before the message); nil for a line
    /// that holds none or a damaged one.
    public init?(line text: some StringProtocol) {
        let line = String(text)
        guard let start = line.range(of: Self.marker) else { return nil }
        let rest = line[start.upperBound...]
        guard let fileAt = rest.range(of: " file=") else { return nil }
        var fields: [Substring: Substring] = [:]
        for word in rest[..<fileAt.lowerBound].split(separator: " ") {
            guard let eq = word.firstIndex(of: "=") else { return nil }
            fields[word[..<eq]] = word[word.index(after: eq)...]
        }
        var file = String(rest[fileAt.upperBound...])
        while file.last == "\n" || file.last == "\r" { file.removeLast() }
        guard !file.isEmpty, let inode = fields["inode"].flatMap({ UInt64($0) }),
            let segment = fields["segment"].flatMap({ Int($0) }), let line = fields["line"].flatMap({ Int($0) }),
            let previous = fields["previous"], let lines = fields["lines"].flatMap({ Int($0) }),
            let offset = fields["offset"].flatMap({ Int($0) }), let hash = fields["sha256"], hash.count == 64,
            segment >= 0, offset >= segment, line >= 0, lines >= line
        else { return nil }
        self.init(
            file: file, inode: inode, segmentOffset: segment, segmentLine: line, previous: String(previous), lines: lines,
            offset: offset, hash: String(hash))
    }

    /// Every anchor in a collector's file, in order.
    public static func all(in text: String) -> [SealAnchor] {
        text.split(separator: "\n").compactMap { SealAnchor(line: $0) }
    }

    /// What this anchor says of `data` (the log file's bytes): nil when the bytes it covers are the ones anchored,
    /// else why not.
    public func mismatch(in data: Data) -> String? {
        guard offset <= data.count else {
            return "the file ends at byte \(data.count), before the \(offset) bytes anchored (lines up to \(lines))"
        }
        var hasher = SHA256()
        hasher.update(data: Data(Seal.segmentPrefix(inode: inode, offset: segmentOffset, previous: previous).utf8))
        let covered = data[data.startIndex + segmentOffset..<data.startIndex + offset]
        hasher.update(data: covered)
        let newlines = covered.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
        guard Seal.hex(hasher.finalize()) == hash, segmentLine + newlines == lines else {
            return "the bytes of lines \(segmentLine + 1)–\(lines) are not the ones anchored (inode \(inode), "
                + "byte \(segmentOffset) to \(offset))"
        }
        return nil
    }
}
