import LogCore

/// Reception settings that change how bytes become a message, with rsyslog 8's defaults.
public struct SyslogParseOptions: Hashable, Sendable {
    /// `$EscapeControlCharactersOnReceive`: bytes below 0x20 become `#` and three octal digits. NUL always does.
    public var escapeControlCharacters = true
    /// `parser.escapeControlCharacterTab`: whether TAB is among the escaped bytes.
    public var escapeTab = true
    /// `$ControlCharacterEscapePrefix`.
    public var controlCharacterEscapePrefix: UInt8 = 0x23
    /// `$Escape8BitCharactersOnReceive`: bytes 0x80 and above escaped like control characters.
    public var escape8BitCharacters = false
    /// `$DropTrailingLFOnReception`.
    public var dropTrailingLF = true
    /// `parser.dropTrailingCROnReception`.
    public var dropTrailingCR = false
    /// Whether a HOSTNAME is looked for in legacy messages (network inputs yes; rsyslog's local socket too).
    public var parseHostname = true
    /// `$MaxMessageSize` / `maxMessageSize`: the effective rsyslog default is 8096 bytes.
    public var maxMessageSize = SyslogParseOptions.defaultMaxMessageSize

    public static let defaultMaxMessageSize = 8096

    public init() {}
}

/// What the receiver knows about a message besides its bytes.
public struct SyslogReception: Sendable {
    /// The reception time: the timestamp of messages that carry none, and the year and zone of BSD timestamps.
    public var receivedAt: SyslogTimestamp
    /// The sender's name (rsyslog's `fromhost`): the hostname of messages that carry none.
    public var fromHost: [UInt8]
    /// The sender's address as text (rsyslog's `fromhost-ip`); `127.0.0.1` for local sockets, as rsyslog has it.
    public var fromHostIP: [UInt8]
    /// The sender's port (`fromhost-port`), nil for local sockets.
    public var fromHostPort: Int?

    public init(
        receivedAt: SyslogTimestamp, fromHost: [UInt8], fromHostIP: [UInt8] = Array("127.0.0.1".utf8),
        fromHostPort: Int? = nil
    ) {
        self.receivedAt = receivedAt
        self.fromHost = fromHost
        self.fromHostIP = fromHostIP
        self.fromHostPort = fromHostPort
    }

    public init(receivedAt: SyslogTimestamp = .now(), fromHost: String) {
        self.init(receivedAt: receivedAt, fromHost: Array(fromHost.utf8))
    }
}

/// rsyslog 8's reading of a syslog datagram or frame: sanitising, PRI, then the RFC 5424 parser and, when that
/// does not apply, the RFC 3164 parser with its heuristics (hostname guess, TAG up to `:` or space, MSG keeping
/// its leading space). Malformed input never fails: like rsyslog, it degrades to a message with defaults.
public enum SyslogParser {
    /// Parses one message (one datagram or one frame's payload).
    public static func parse(
        _ bytes: some Collection<UInt8>, reception: SyslogReception, options: SyslogParseOptions = SyslogParseOptions()
    ) -> SyslogMessage {
        let raw = sanitize(bytes, options: options)
        return parseSanitized(raw, reception: reception, options: options)
    }

    /// Parses one UDP datagram as imudp does: only the first `maxMessageSize` bytes are read (the rest of the
    /// datagram is lost, as in rsyslog, whose receive buffer has that size); `truncated` says it happened so the
    /// receiver can count it.
    public static func parseDatagram(
        _ datagram: some Collection<UInt8>, reception: SyslogReception,
        options: SyslogParseOptions = SyslogParseOptions()
    ) -> (message: SyslogMessage, truncated: Bool) {
        let truncated = datagram.count > options.maxMessageSize
        // `parse` makes the message's own copy of the bytes it keeps (sanitising): none is made here.
        if truncated {
            return (parse(datagram.prefix(options.maxMessageSize), reception: reception, options: options), true)
        }
        return (parse(datagram, reception: reception, options: options), false)
    }

    /// Applies rsyslog's reception sanitising: one trailing NUL dropped, one trailing LF dropped (optionally a CR),
    /// control characters (and optionally 8-bit bytes) escaped as `#ooo`.
    public static func sanitize(_ bytes: some Collection<UInt8>, options: SyslogParseOptions) -> [UInt8] {
        // Generic callers in other modules reach this unspecialised: one dynamic call for the contiguous bytes
        // (a frame in a ByteBuffer, an array), then concrete loops.
        if let done = bytes.withContiguousStorageIfAvailable({ sanitize(buffer: $0, options: options) }) {
            return done
        }
        return Array(bytes).withUnsafeBufferPointer { sanitize(buffer: $0, options: options) }
    }

    private static func sanitize(buffer bytes: UnsafeBufferPointer<UInt8>, options: SyslogParseOptions) -> [UInt8] {
        var count = bytes.count
        if count > 0 && bytes[count - 1] == 0 { count -= 1 }
        if options.dropTrailingLF && count > 0 && bytes[count - 1] == 0x0A { count -= 1 }
        if options.dropTrailingCR && count > 0 && bytes[count - 1] == 0x0D { count -= 1 }
        let input = UnsafeBufferPointer(rebasing: bytes[..<count])
        // Nearly every message needs nothing escaped: find out eight bytes at a time (a word with a byte below
        // 0x20, or above 0x7F when those are escaped, is looked at byte by byte).
        var firstToEscape: Int?
        let escape8Bit = options.escape8BitCharacters
        var start = 0
        if let base = input.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            while start + 8 <= input.count {
                let w = UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self)
                let control = (w &- ones &* 0x20) & ~w & highs
                if control != 0 || (escape8Bit && w & highs != 0) { break }
                start += 8
            }
        }
        for i in start..<input.count {
            let c = input[i]
            // rsyslog sanitises when a byte may need it (a TAB too, even when TABs are kept as they are).
            if (c < 0x20 && (c == 0 || options.escapeControlCharacters)) || (escape8Bit && c > 0x7F) {
                firstToEscape = i
                break
            }
        }
        guard let first = firstToEscape else { return Array(input) }
        // As rsyslog's SanitizeMsg: the result stops short of the size limit, three bytes before it, so that an
        // escape always fits (`iDst < maxDest - 3`, maxDest the lesser of four times the length and the limit).
        let cap = min(input.count * 4, options.maxMessageSize) - 3
        var out: [UInt8] = []
        out.reserveCapacity(input.count + 16)
        out.append(contentsOf: input[..<min(first, max(cap, 0))])
        for b in input[first...] {
            if out.count >= cap { break }
            if needsEscape(b, options) {
                out.append(options.controlCharacterEscapePrefix)
                out.append(0x30 &+ (b >> 6))
                out.append(0x30 &+ ((b >> 3) & 7))
                out.append(0x30 &+ (b & 7))
            } else {
                out.append(b)
            }
        }
        return out
    }

    @inline(__always)
    private static func needsEscape(_ b: UInt8, _ options: SyslogParseOptions) -> Bool {
        if b < 0x20 {
            if b == 0 { return true }
            if b == 0x09 && !options.escapeTab { return false }
            return options.escapeControlCharacters
        }
        return b > 0x7F && options.escape8BitCharacters
    }

    /// Parses a message that is already sanitised.
    public static func parseSanitized(
        _ raw: [UInt8], reception: SyslogReception, options: SyslogParseOptions = SyslogParseOptions()
    ) -> SyslogMessage {
        var message = SyslogMessage(parsed: raw, reception: reception)
        var offset = 0
        if raw.first == 0x3C {
            if let (value, after) = readPRI(raw), let priority = Priority(value: value) {
                message.priority = priority
                offset = after
            } else {
                // rsyslog: invalid PRI → invld.debug, and the legacy parser leaves the whole text as MSG.
                message.priority = .invalid
                return message
            }
        }
        if raw.count - offset >= 2 && raw[offset] == 0x31 && raw[offset + 1] == 0x20 {
            parseRFC5424(raw, from: offset + 2, into: &message)
        } else {
            parseRFC3164(raw, from: offset, into: &message, options: options)
        }
        return message
    }

    /// `<` 1–3 digits `>` with a value ≤ 191, as rsyslog accepts it; returns the value and the offset after `>`.
    static func readPRI(_ raw: [UInt8]) -> (Int, Int)? {
        let n = raw.count
        guard n >= 3, raw[0] == 0x3C else { return nil }
        var value = 0
        var i = 1
        while i < n && i <= 3 && ASCII.isDigit(raw[i]) {
            value = value * 10 + Int(raw[i] &- 0x30)
            i += 1
        }
        guard i > 1, i < n, raw[i] == 0x3E, value <= 191 else { return nil }
        return (value, i + 1)
    }

    // MARK: RFC 5424

    private static func parseRFC5424(_ raw: [UInt8], from start: Int, into m: inout SyslogMessage) {
        m.protocolVersion = 1
        var p = start
        let n = raw.count
        var proceed = true
        if n - p >= 2 && raw[p] == 0x2D && raw[p + 1] == 0x20 {
            p += 2
        } else if let (ts, next) = readRFC3339(raw, from: p) {
            m.timestamp = ts
            p = next
        } else {
            proceed = false
        }
        if proceed {
            m.hostnameSpan = readField(raw, &p)
            m.appNameSpan = readField(raw, &p)
            m.procIDSpan = readField(raw, &p)
            m.msgIDSpan = readField(raw, &p)
            m.structuredDataSpan = readStructuredData(raw, &p)
        }
        m.msgSpan = SyslogMessage.Span(min(p, n)..<n)
    }

    /// Bytes up to the next space, and the space eaten when present (rsyslog does not insist on it).
    private static func readField(_ raw: [UInt8], _ p: inout Int) -> SyslogMessage.Span {
        let start = p
        while p < raw.count && raw[p] != 0x20 { p += 1 }
        let field = SyslogMessage.Span(start..<p)
        if p < raw.count { p += 1 }
        return field
    }

    /// `-` or `[…]` elements up to the first `]` that a space follows (`\]` does not end one).
    private static func readStructuredData(_ raw: [UInt8], _ p: inout Int) -> SyslogMessage.Span {
        let n = raw.count
        let start = p
        guard p < n, raw[p] == 0x5B || raw[p] == 0x2D else { return SyslogMessage.Span(p..<p) }
        if raw[p] == 0x2D {
            p += 1
        } else {
            while true {
                if n - p < 2 {
                    if p < n && raw[p] == 0x5D { p += 1 }
                    break
                } else if raw[p] == 0x5C && raw[p + 1] == 0x5D {
                    p += 2
                } else if raw[p] == 0x5D && raw[p + 1] == 0x20 {
                    p += 1
                    break
                } else {
                    p += 1
                }
            }
        }
        let field = SyslogMessage.Span(start..<p)
        if p < n && raw[p] == 0x20 { p += 1 }
        return field
    }

    // MARK: RFC 3164

    private static func parseRFC3164(
        _ raw: [UInt8], from start: Int, into m: inout SyslogMessage, options: SyslogParseOptions
    ) {
        let n = raw.count
        var p = start
        // Headerless: spaces or tabs, then `{` or `[` (JSON and the like): everything after PRI is MSG.
        var q = p
        while q < n && (raw[q] == 0x20 || raw[q] == 0x09) { q += 1 }
        if q < n && (raw[q] == 0x7B || raw[q] == 0x5B) {
            m.msgSpan = SyslogMessage.Span(p..<n)
            return
        }

        if let (ts, next) = readRFC3339(raw, from: p) {
            m.timestamp = ts
            p = next
        } else if let (ts, next) = readBSDTimestamp(raw, from: p, reception: m.receivedAt) {
            m.timestamp = ts
            p = next
        } else if p < n && raw[p] == 0x20 && n - p > 1,
            let (ts, next) = readBSDTimestamp(raw, from: p + 1, reception: m.receivedAt)
        {
            m.timestamp = ts
            p = next
        }

        if options.parseHostname && p < n {
            var i = p
            while i < n && i - p < 255 {
                let b = raw[i]
                guard ASCII.isAlnum(b) || b == 0x2E || b == 0x5F || b == 0x2D else { break }
                i += 1
            }
            if i == n {
                m.hostnameSpan = SyslogMessage.Span(p..<n)
                p = n
            } else if i > p && ASCII.isAlnum(raw[i - 1]) && raw[i] == 0x20 {
                m.hostnameSpan = SyslogMessage.Span(p..<i)
                p = i + 1
            }
        }

        // TAG: up to ':' (included) or ' ' (left for MSG), at most 510 bytes before the colon.
        let tagStart = p
        while p < n && raw[p] != 0x3A && raw[p] != 0x20 && p - tagStart < 510 { p += 1 }
        if p < n && raw[p] == 0x3A { p += 1 }
        m.tagSpan = SyslogMessage.Span(tagStart..<p)
        m.msgSpan = SyslogMessage.Span(p..<n)
    }

    // MARK: Timestamps

    /// rsyslog's `srSLMGParseInt32`: leading digits as a number, 0 when there are none.
    @inline(__always)
    private static func readInt(_ raw: [UInt8], _ p: inout Int) -> Int {
        var value = 0
        while p < raw.count && ASCII.isDigit(raw[p]) && value < Int(Int32.max) / 10 - 1 {
            value = value * 10 + Int(raw[p] &- 0x30)
            p += 1
        }
        return value
    }

    /// `:mm:ss[.fraction]` after the hour, with rsyslog's ranges (a leap second allowed); the fraction's
    /// digits are counted, as its precision is printed back.
    private static func readClockRest(
        _ raw: [UInt8], _ p: inout Int
    ) -> (minute: Int, second: Int, fraction: Int, digits: Int)? {
        let n = raw.count
        guard p < n, raw[p] == 0x3A else { return nil }
        p += 1
        let minute = readInt(raw, &p)
        guard (0...59).contains(minute), p < n, raw[p] == 0x3A else { return nil }
        p += 1
        let second = readInt(raw, &p)
        guard (0...60).contains(second) else { return nil }
        var fraction = 0
        var digits = 0
        if p < n && raw[p] == 0x2E {
            p += 1
            let fractionStart = p
            fraction = readInt(raw, &p)
            digits = p - fractionStart
        }
        return (minute, second, fraction, digits)
    }

    /// An RFC 3339 timestamp as rsyslog accepts it (one-digit fields tolerated, `Z` or `±hh:mm` required),
    /// followed by a space (eaten) or the end.
    static func readRFC3339(_ raw: [UInt8], from start: Int) -> (SyslogTimestamp, Int)? {
        let n = raw.count
        var p = start
        let year = readInt(raw, &p)
        guard p < n, raw[p] == 0x2D, year < 2100 else { return nil }
        p += 1
        let month = readInt(raw, &p)
        guard (1...12).contains(month), p < n, raw[p] == 0x2D else { return nil }
        p += 1
        let day = readInt(raw, &p)
        guard (1...31).contains(day), p < n, raw[p] == 0x54 else { return nil }
        p += 1
        let hour = readInt(raw, &p)
        guard (0...23).contains(hour), let (minute, second, fraction, digits) = readClockRest(raw, &p), p < n else {
            return nil
        }
        var ts = SyslogTimestamp(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second,
            fraction: fraction, fractionDigits: digits)
        if raw[p] == 0x5A {
            ts.offsetSign = .zulu
            p += 1
        } else if raw[p] == 0x2B || raw[p] == 0x2D {
            ts.offsetSign = raw[p] == 0x2B ? .plus : .minus
            p += 1
            let oh = readInt(raw, &p)
            guard (0...23).contains(oh), p < n, raw[p] == 0x3A else { return nil }
            p += 1
            let om = readInt(raw, &p)
            guard (0...59).contains(om) else { return nil }
            ts.offsetHours = oh
            ts.offsetMinutes = om
        } else {
            return nil
        }
        if p < n {
            guard raw[p] == 0x20 else { return nil }
            p += 1
        }
        return (ts, p)
    }

    /// A BSD timestamp `Mmm dd hh:mm:ss` with rsyslog's tolerances: month in any case, day space- or zero-padded
    /// or bare, a year before the month or in place of the time, a `.fraction`, a trailing `:`. The year and zone
    /// come from the reception time. Must be followed by a space (eaten) or the end.
    static func readBSDTimestamp(
        _ raw: [UInt8], from start: Int, reception: SyslogTimestamp
    ) -> (SyslogTimestamp, Int)? {
        let n = raw.count
        var p = start
        guard n - p >= 3 else { return nil }
        var year = 0
        if ASCII.isDigit(raw[p]) {
            year = readInt(raw, &p)
            guard (1970...2100).contains(year), p < n, raw[p] == 0x20 else { return nil }
            p += 1
        }
        guard n - p >= 3, let month = CivilTime.month(raw[p], raw[p + 1], raw[p + 2]),
            ASCII.isAlpha(raw[p]), ASCII.isAlpha(raw[p + 1]), ASCII.isAlpha(raw[p + 2])
        else { return nil }
        p += 3
        guard p < n, raw[p] == 0x20 else { return nil }
        p += 1
        if p < n && raw[p] == 0x20 { p += 1 }
        let day = readInt(raw, &p)
        guard (1...31).contains(day), p < n, raw[p] == 0x20 else { return nil }
        p += 1
        var hour = readInt(raw, &p)
        if year == 0 && hour > 1970 && hour < 2100 {
            year = hour
            guard p < n, raw[p] == 0x20 else { return nil }
            p += 1
            hour = readInt(raw, &p)
        }
        guard (0...23).contains(hour), let (minute, second, fraction, digits) = readClockRest(raw, &p) else {
            return nil
        }
        if p < n && raw[p] == 0x3A { p += 1 }
        if p < n {
            guard raw[p] == 0x20 else { return nil }
            p += 1
        }
        var ts = reception
        if year > 0 { ts.year = year }
        ts.month = month
        ts.day = day
        ts.hour = hour
        ts.minute = minute
        ts.second = second
        ts.fraction = fraction
        ts.fractionDigits = digits
        return (ts, p)
    }
}
