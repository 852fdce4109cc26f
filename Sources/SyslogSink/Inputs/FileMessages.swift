import LogCore
import SyslogProtocol

/// What imfile makes of a followed file's bytes, as rsyslog 8.2302 does (plugins/imfile, runtime/stream.c). No
/// I/O: the follower feeds bytes in order and gets messages out.
///
/// Lines end at LF (taken off; a CR stays). With `readMode` 0 each non-empty line is a message. Multi-line
/// messages join their lines with the LF replacement (`#012` for read modes 1 and 2, `\n` for the regexes, a real
/// LF with `escapeLF` off): read mode 1 ends one at an empty line, read mode 2 continues one with each line that
/// starts with a blank, `startmsg.regex` starts one at each matching line and `endmsg.regex` ends one there. An
/// unfinished line or message waits for the rest (and is kept in the state file across restarts).
struct FileMessageAssembler {
    let settings: FileInputSettings
    private let start: CompiledRegex?
    private let end: CompiledRegex?
    private let joiner: [UInt8]
    /// The last line's bytes so far (no LF yet): rsyslog's `prev_line_segment`.
    private(set) var partialLine: [UInt8] = []
    /// The multi-line message so far: rsyslog's `prev_msg_segment`.
    private(set) var pendingMessage: [UInt8]?
    /// The file offset of the next byte fed, and where the pending message started (`$!metadata!fileoffset`).
    private(set) var position: Int64 = 0
    private var pendingStart: Int64 = 0

    init(settings: FileInputSettings) {
        self.settings = settings
        start = settings.startRegex.flatMap { CompiledRegex($0, extended: true) }
        end = settings.endRegex.flatMap { CompiledRegex($0, extended: true) }
        let regexMode = settings.startRegex != nil || settings.endRegex != nil
        if !settings.escapeLF {
            joiner = [0x0A]
        } else {
            joiner = Array((settings.escapeLFReplacement ?? (regexMode ? "\\n" : "#012")).utf8)
        }
    }

    /// Restores what the state file kept: reading goes on at `offset`.
    init(settings: FileInputSettings, offset: Int64, partialLine: [UInt8], pendingMessage: [UInt8]?) {
        self.init(settings: settings)
        self.partialLine = partialLine
        self.pendingMessage = pendingMessage
        position = offset
        pendingStart = offset - Int64(partialLine.count)
    }

    /// A message and the file offset where it starts.
    typealias Message = (text: [UInt8], offset: Int64)

    /// The messages that `bytes` (what follows everything fed so far) complete.
    mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Message] {
        var out: [Message] = []
        var rest = bytes
        while let lf = rest.firstIndex(of: 0x0A) {
            var line = partialLine
            let lineStart = position - Int64(partialLine.count)
            partialLine = []
            line.append(contentsOf: rest[..<lf])
            position += Int64(lf - rest.startIndex + 1)
            rest = rest[(lf + 1)...]
            take(line, at: lineStart, into: &out)
        }
        partialLine.append(contentsOf: rest)
        position += Int64(rest.count)
        return out
    }

    /// The unfinished multi-line message, as `readTimeout` sends it; nil when there is none.
    mutating func flushPending() -> Message? {
        defer { pendingMessage = nil }
        return pendingMessage.map { ($0, pendingStart) }
    }

    private mutating func take(_ line: [UInt8], at lineStart: Int64, into out: inout [Message]) {
        if let start {
            if start.matches(line[...]) {
                if let previous = pendingMessage { out.append((previous, pendingStart)) }
                pendingMessage = line
                pendingStart = lineStart
            } else {
                append(line, at: lineStart)
            }
            return
        }
        if let end {
            append(line, at: lineStart)
            if end.matches(line[...]), let message = pendingMessage {
                out.append((message, pendingStart))
                pendingMessage = nil
            }
            return
        }
        switch settings.readMode {
        case 1:
            if line.isEmpty {
                if let message = pendingMessage { out.append((message, pendingStart)) }
                pendingMessage = nil
            } else {
                append(line, at: lineStart)
            }
        case 2:
            if let first = line.first, first == 0x20 || first == 0x09, pendingMessage != nil {
                append(line, at: lineStart)
            } else {
                if let message = pendingMessage { out.append((message, pendingStart)) }
                pendingMessage = line.isEmpty ? nil : line
                pendingStart = lineStart
            }
        default:
            if !line.isEmpty { out.append((line, lineStart)) }
        }
    }

    private mutating func append(_ line: [UInt8], at lineStart: Int64) {
        if var message = pendingMessage {
            message.append(contentsOf: joiner)
            message.append(contentsOf: line)
            pendingMessage = message
        } else {
            pendingMessage = line
            pendingStart = lineStart
        }
    }

    /// `message` as imfile hands it on: cut at `trimLineOverBytes`, `@cee:` before it with `addCeeTag`, and cut
    /// into pieces of `maxSize` (the rest dropped with `discardTruncatedMsg`).
    static func pieces(_ message: [UInt8], settings: FileInputSettings, maxSize: Int) -> [[UInt8]] {
        var text = message
        if settings.trimLineOverBytes > 0, text.count > settings.trimLineOverBytes {
            text.removeLast(text.count - settings.trimLineOverBytes)
        }
        if settings.addCeeTag { text = Array("@cee:".utf8) + text }
        guard text.count > maxSize, maxSize > 0 else { return [text] }
        if settings.discardTruncatedMsg { return [Array(text[..<maxSize])] }
        return stride(from: 0, to: text.count, by: maxSize).map { Array(text[$0..<min($0 + maxSize, text.count)]) }
    }

    /// A message as imfile makes it: the text is the MSG (not parsed, nothing escaped), under `Tag` as written,
    /// `Facility`/`Severity`, this machine's name, no sender; with `needParse` the syslog parser reads it (without
    /// a hostname; a line without PRI is user.notice).
    /// With `addMetadata` (on for input(), off for the legacy directives), `$!metadata!filename` and
    /// `$!metadata!fileoffset` (where the message starts, as text).
    static func message(
        _ text: [UInt8], settings: FileInputSettings, host: [UInt8], options: SyslogParseOptions,
        now: SyslogTimestamp, file: String, offset: Int64
    ) -> SyslogMessage {
        var message: SyslogMessage
        if settings.needParse {
            var local = options
            local.parseHostname = false
            (message, _) = SyslogParser.parseDatagram(
                text, reception: SyslogReception(receivedAt: now, fromHost: []), options: local)
            message.hostnameField = host[...]
        } else {
            let tag = Array(settings.tag.utf8)
            message = SyslogMessage(
                raw: text,
                priority: Priority(value: settings.facility * 8 + settings.severity)
                    ?? Priority(facility: .local0, severity: .notice),
                timestamp: now, hostname: host[...], fromHost: [], tag: tag[...], msg: text[...])
        }
        if settings.addMetadata {
            var metadata = JSONObject()
            metadata["filename"] = .string(file)
            metadata["fileoffset"] = .string(String(offset))
            var tree = JSONObject()
            tree["metadata"] = .object(metadata)
            message.variables = .object(tree)
        }
        return message
    }
}
