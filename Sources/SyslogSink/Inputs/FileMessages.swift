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

    /// Restores what the state file kept.
    init(settings: FileInputSettings, partialLine: [UInt8], pendingMessage: [UInt8]?) {
        self.init(settings: settings)
        self.partialLine = partialLine
        self.pendingMessage = pendingMessage
    }

    /// The messages that `bytes` (what follows everything fed so far) complete.
    mutating func feed(_ bytes: ArraySlice<UInt8>) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var rest = bytes
        while let lf = rest.firstIndex(of: 0x0A) {
            var line = partialLine
            partialLine = []
            line.append(contentsOf: rest[..<lf])
            rest = rest[(lf + 1)...]
            take(line, into: &out)
        }
        partialLine.append(contentsOf: rest)
        return out
    }

    /// The unfinished multi-line message, as `readTimeout` sends it; nil when there is none.
    mutating func flushPending() -> [UInt8]? {
        defer { pendingMessage = nil }
        return pendingMessage
    }

    private mutating func take(_ line: [UInt8], into out: inout [[UInt8]]) {
        if let start {
            if start.matches(line[...]) {
                if let previous = pendingMessage { out.append(previous) }
                pendingMessage = line
            } else {
                append(line)
            }
            return
        }
        if let end {
            append(line)
            if end.matches(line[...]), let message = pendingMessage {
                out.append(message)
                pendingMessage = nil
            }
            return
        }
        switch settings.readMode {
        case 1:
            if line.isEmpty {
                if let message = pendingMessage { out.append(message) }
                pendingMessage = nil
            } else {
                append(line)
            }
        case 2:
            if let first = line.first, first == 0x20 || first == 0x09, pendingMessage != nil {
                append(line)
            } else {
                if let message = pendingMessage { out.append(message) }
                pendingMessage = line.isEmpty ? nil : line
            }
        default:
            if !line.isEmpty { out.append(line) }
        }
    }

    private mutating func append(_ line: [UInt8]) {
        if var message = pendingMessage {
            message.append(contentsOf: joiner)
            message.append(contentsOf: line)
            pendingMessage = message
        } else {
            pendingMessage = line
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
    static func message(
        _ text: [UInt8], settings: FileInputSettings, host: [UInt8], options: SyslogParseOptions,
        now: SyslogTimestamp
    ) -> SyslogMessage {
        if settings.needParse {
            var local = options
            local.parseHostname = false
            var (parsed, _) = SyslogParser.parseDatagram(
                text, reception: SyslogReception(receivedAt: now, fromHost: []), options: local)
            parsed.hostnameField = host[...]
            return parsed
        }
        let tag = Array(settings.tag.utf8)
        return SyslogMessage(
            raw: text,
            priority: Priority(value: settings.facility * 8 + settings.severity)
                ?? Priority(facility: .local0, severity: .notice),
            timestamp: now, hostname: host[...], fromHost: [], tag: tag[...], msg: text[...])
    }
}
