import LogCore

/// What a stored line turned out to be.
public enum HAProxyLogParseResult: Hashable, Sendable {
    /// A tcplog, httplog or CLF line.
    case traffic(HAProxyLogLine)
    /// A server-state, health-check or lifecycle message.
    case event(HAProxyLogLine)
    /// A line that is neither (another program's, a custom log-format, a blank line).
    case other(HAProxyLogLine)
    /// A line that began like a traffic line but broke off: why, and where.
    case malformed(HAProxyLogParseError)
}

/// How much of a traffic line to read. A query that needs only the fields up to the termination state (status,
/// timers, bytes, names) can skip the connection counts, queues, captures and request line, and the date's
/// value (its place is checked and kept in `dateRange`): those fields are then left at their defaults, and a
/// line broken only in a skipped field reads as traffic.
public enum HAProxyLogParseDepth: Hashable, Sendable {
    case all
    case throughTermination
    /// Up to the HTTP status (TCP: the timers): the names, the timers and the status, nothing after.
    case throughStatus
}

/// What a stored line turned out to be, when its fields went into a caller's ``HAProxyLogLine``.
public enum HAProxyLogParseStatus: Hashable, Sendable {
    case traffic
    case event
    case other
    case malformed(HAProxyLogParseError)
}

/// Why a traffic line could not be read, and the byte offset where reading stopped.
public struct HAProxyLogParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public var offset: Int

    public var description: String { "\(reason) at byte \(offset)" }
}

/// Reads stored HAProxy log lines: with a syslog file prefix (`Nov 26 08:51:08 host haproxy[pid]: `), an RFC 3339
/// prefix, the datagram HAProxy sends (`<134>Nov 26 08:51:08 haproxy[pid]: `, RFC 5424 too), or none.
///
/// It works on the bytes in place: no allocation, no `String`, one pass. It never traps on any input.
public enum HAProxyLogParser {
    /// Parses one line (without its newline; a trailing `\n` or `\r\n` is ignored).
    public static func parse(_ line: UnsafeBufferPointer<UInt8>) -> HAProxyLogParseResult {
        var out = HAProxyLogLine()
        switch parse(line, into: &out) {
        case .traffic: return .traffic(out)
        case .event: return .event(out)
        case .other: return .other(out)
        case .malformed(let error): return .malformed(error)
        }
    }

    /// Parses one line into a caller-owned ``HAProxyLogLine`` (reset first): the fast path, which copies nothing.
    ///
    /// `formats`: custom `log-format`s the body is tried against first (in order); a line in none of them is read
    /// as usual.
    public static func parse(
        _ line: UnsafeBufferPointer<UInt8>, into out: inout HAProxyLogLine, depth: HAProxyLogParseDepth = .all,
        formats: [LogFormatReader] = []
    ) -> HAProxyLogParseStatus {
        var end = line.count
        while end > 0 && (line[end - 1] == 0x0A || line[end - 1] == 0x0D) { end -= 1 }
        var s = Scan(b: line, p: 0, end: end)
        out.resetOptionalFields()
        readPrefix(&s, &out, depth)
        out.body = s.p..<end
        if !formats.isEmpty {
            // From a clean line: a field the format does not name must not keep the previous line's value.
            let header = out.headerOnly
            for format in formats {
                var attempt = s
                out = header
                if format.read(&attempt, into: &out) { return .traffic }
            }
            out = header
        }
        let status = readBody(&s, &out, depth)
        if case .traffic = status { return status }
        // Off the fast path: clear whatever a traffic attempt left, keeping the header and the body.
        let kind = out.kind
        out = out.headerOnly
        out.kind = kind
        return status
    }

    /// Parses one line given as text.
    public static func parse(_ line: String) -> HAProxyLogParseResult {
        var copy = line
        return copy.withUTF8 { parse($0) }
    }

    /// Parses one line and returns its traffic record, if it is a traffic line.
    public static func record(_ line: String) -> HAProxyLogRecord? {
        var copy = line
        return copy.withUTF8 { buffer in
            guard case .traffic(let parsed) = parse(buffer) else { return nil }
            return parsed.record(in: buffer)
        }
    }

    // MARK: Syslog prefix

    private static func readPrefix(_ s: inout Scan, _ out: inout HAProxyLogLine, _ depth: HAProxyLogParseDepth) {
        let start = s.p
        if s.peek == 0x3C {
            // A datagram as sent: <PRI> first.
            var q = s.p + 1
            while q < s.end && q - s.p <= 4 && ASCII.isDigit(s.b[q]) { q += 1 }
            guard q < s.end, s.b[q] == 0x3E, q > s.p + 1 else { return }
            s.p = q + 1
            if s.end - s.p >= 2 && s.b[s.p] == 0x31 && s.b[s.p + 1] == 0x20 {
                s.p += 2
                readRFC5424Header(&s, &out)
                return
            }
        }
        if isBSDTimestamp(s) {
            out.syslogTimestamp = s.p..<(s.p + 15)
            s.p += 16
        } else if isRFC3339Start(s) {
            let tsStart = s.p
            s.skipToSpace()
            out.syslogTimestamp = tsStart..<s.p
            guard s.consumeSpace() else {
                s.p = start
                return
            }
        } else {
            // No header at all, or a bare <PRI>: the rest is the message.
            return
        }
        // HOST TAG: or just TAG: (the local format HAProxy sends has no host).
        let afterTimestamp = s.p
        let first = s.wordRange()
        if first.isEmpty {
            s.p = afterTimestamp
            return
        }
        if s.b[first.upperBound - 1] == 0x3A {
            setTag(first, &s, &out, depth)
            _ = s.consumeSpace()
            return
        }
        out.host = first
        guard s.consumeSpace() else { return }
        let afterHost = s.p
        let tag = s.wordRange()
        if !tag.isEmpty && s.b[tag.upperBound - 1] == 0x3A {
            setTag(tag, &s, &out, depth)
            _ = s.consumeSpace()
        } else {
            // A host and then something that is not a tag: leave it to the body.
            s.p = afterHost
        }
    }

    /// `name[pid]:` or `name:`.
    private static func setTag(
        _ tag: Range<Int>, _ s: inout Scan, _ out: inout HAProxyLogLine, _ depth: HAProxyLogParseDepth
    ) {
        let colon = tag.upperBound - 1
        // A partial parse keeps the tag whole; the program name and pid are for the full one.
        guard depth == .all else {
            out.program = tag.lowerBound..<colon
            return
        }
        var nameEnd = tag.lowerBound
        while nameEnd < colon && s.b[nameEnd] != 0x5B { nameEnd += 1 }
        out.program = tag.lowerBound..<nameEnd
        if nameEnd < colon && s.b[colon - 1] == 0x5D {
            var pid = 0
            var digits = 0
            var i = nameEnd + 1
            while i < colon - 1 && ASCII.isDigit(s.b[i]) && digits < 18 {
                pid = pid * 10 + Int(s.b[i] &- 0x30)
                digits += 1
                i += 1
            }
            if digits > 0 && i == colon - 1 { out.pid = pid }
        }
    }

    /// `TIMESTAMP HOST APP PROCID MSGID SD ` after `<PRI>1 `.
    private static func readRFC5424Header(_ s: inout Scan, _ out: inout HAProxyLogLine) {
        let ts = s.wordRange()
        out.syslogTimestamp = ts
        _ = s.consumeSpace()
        let host = s.wordRange()
        if !(host.count == 1 && s.b[host.lowerBound] == 0x2D) { out.host = host }
        _ = s.consumeSpace()
        out.program = s.wordRange()
        _ = s.consumeSpace()
        let procID = s.wordRange()
        var pid = 0
        var digits = 0
        for i in procID where ASCII.isDigit(s.b[i]) && digits < 18 {
            pid = pid * 10 + Int(s.b[i] &- 0x30)
            digits += 1
        }
        if digits == procID.count && digits > 0 { out.pid = pid }
        _ = s.consumeSpace()
        _ = s.wordRange()  // MSGID
        _ = s.consumeSpace()
        if s.peek == 0x5B {
            // Structured data: up to the first `]` followed by a space, `\]` escaped.
            while s.p < s.end {
                if s.b[s.p] == 0x5C && s.p + 1 < s.end {
                    s.p += 2
                    continue
                }
                if s.b[s.p] == 0x5D && (s.p + 1 == s.end || s.b[s.p + 1] == 0x20) {
                    s.p += 1
                    break
                }
                s.p += 1
            }
        } else {
            _ = s.wordRange()
        }
        _ = s.consumeSpace()
    }

    /// `Mmm dd hh:mm:ss ` at `s.p`, checked two words at a time: separators by mask, digits by the has-no-
    /// non-digit test (as in `Scan.digits`).
    private static func isBSDTimestamp(_ s: Scan) -> Bool {
        let b = s.b
        let p = s.p
        guard s.end - p >= 16, let base = b.baseAddress else { return false }
        let raw = UnsafeRawPointer(base)
        let w0 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: UInt64.self))
        let w1 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self))
        // Spaces at 3 and 6; ':' at 9 and 12, a space at 15.
        guard w0 & 0x00FF_0000_FF00_0000 == 0x0020_0000_2000_0000,
            w1 & 0xFF00_00FF_0000_FF00 == 0x2000_003A_0000_3A00
        else { return false }
        func nonDigits(_ w: UInt64) -> UInt64 {
            let x = w ^ 0x3030_3030_3030_3030
            return ((x &+ 0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080
        }
        // Digits at 5 and 7, and at 8, 10, 11, 13, 14; the day's first place is a digit or a space.
        guard nonDigits(w0) & 0x8000_8000_0000_0000 == 0, nonDigits(w1) & 0x0080_8000_8080_0080 == 0,
            b[p + 4] == 0x20 || ASCII.isDigit(b[p + 4])
        else { return false }
        return ASCII.isAlpha(b[p]) && ASCII.isAlpha(b[p + 1]) && ASCII.isAlpha(b[p + 2])
    }

    private static func isRFC3339Start(_ s: Scan) -> Bool {
        let b = s.b
        let p = s.p
        guard s.end - p >= 20 else { return false }
        return ASCII.isDigit(b[p]) && ASCII.isDigit(b[p + 1]) && ASCII.isDigit(b[p + 2]) && ASCII.isDigit(b[p + 3])
            && b[p + 4] == 0x2D && b[p + 7] == 0x2D && b[p + 10] == 0x54
    }

    // MARK: Body

    private static func readBody(
        _ s: inout Scan, _ out: inout HAProxyLogLine, _ depth: HAProxyLogParseDepth
    ) -> HAProxyLogParseStatus {
        let start = s.p
        let client = s.wordRange()
        if !client.isEmpty && s.p + 1 < s.end && s.b[s.p] == 0x20 {
            if s.b[s.p + 1] == 0x5B {
                s.p += 1
                return readTraffic(&s, &out, client: client, depth)
            }
            if s.hasPrefix(" - - [", at: s.p) {
                s.p += 6
                return readCLF(&s, &out, client: client, depth)
            }
        }
        s.p = start
        if looksLikeEvent(s) {
            out.kind = .event
            return .event
        }
        out.kind = .other
        return .other
    }

    private static func looksLikeEvent(_ s: Scan) -> Bool {
        s.hasPrefix("Server ", at: s.p) || s.hasPrefix("Backup Server ", at: s.p)
            || s.hasPrefix("Health check for ", at: s.p) || s.hasPrefix("Proxy ", at: s.p)
            || s.hasPrefix("backend ", at: s.p) || s.hasPrefix("proxy ", at: s.p)
            || s.hasPrefix("frontend ", at: s.p) || s.hasPrefix("audit: ", at: s.p)
    }

    /// `ip:port [date] ft b/s timers …`, `s.p` at the `[`.
    private static func readTraffic(
        _ s: inout Scan, _ out: inout HAProxyLogLine, client: Range<Int>, _ depth: HAProxyLogParseDepth
    ) -> HAProxyLogParseStatus {
        // Client: the port follows the last ':' (IPv6 addresses are printed bare).
        var colon = client.upperBound - 1
        while colon > client.lowerBound && s.b[colon] != 0x3A { colon -= 1 }
        guard colon > client.lowerBound, colon + 1 < client.upperBound else {
            return fail("client address is not ip:port", client.lowerBound)
        }
        if depth == .all {
            guard let port = s.unsignedValue(in: (colon + 1)..<client.upperBound) else {
                return fail("client address is not ip:port", client.lowerBound)
            }
            out.clientPort = port
        }
        out.clientIP = client.lowerBound..<colon

        s.p += 1  // '['
        out.dateRange = s.p..<(s.p + 24)
        if depth != .all {
            // Only its shape: halog's check (a day digit 0-3) and the closing bracket where it belongs.
            guard s.end - s.p > 25, s.b[s.p] &- 0x30 < 4, s.b[s.p + 24] == 0x5D, s.b[s.p + 25] == 0x20 else {
                return fail("date is not [dd/Mon/yyyy:HH:MM:SS.mmm]", s.p)
            }
            s.p += 26
        } else {
            guard let date = readDate(&s, milliseconds: true), s.consume(0x5D), s.consumeSpace() else {
                return fail("date is not [dd/Mon/yyyy:HH:MM:SS.mmm]", s.p)
            }
            out.date = date
        }

        let frontend = s.wordRange()
        guard !frontend.isEmpty, s.consumeSpace() else { return fail("frontend missing", s.p) }
        if s.b[frontend.upperBound - 1] == 0x7E {
            out.frontendTLS = true
            out.frontend = frontend.lowerBound..<(frontend.upperBound - 1)
        } else {
            out.frontend = frontend
        }

        let backendServer = s.wordRange()
        var slash = backendServer.lowerBound
        while slash < backendServer.upperBound && s.b[slash] != 0x2F { slash += 1 }
        guard slash < backendServer.upperBound, s.consumeSpace() else {
            return fail("backend/server missing", backendServer.lowerBound)
        }
        out.backend = backendServer.lowerBound..<slash
        out.server = (slash + 1)..<backendServer.upperBound

        // Timers: three (TCP) or five (HTTP), '/'-separated, -1 allowed, '+' under logasap.
        var timers = (0, 0, 0, 0, 0)
        var count = 0
        while true {
            var plus = false
            guard let value = s.signedValue(plus: &plus) else { return fail("timer is not a number", s.p) }
            // HAProxy's timers are 32-bit milliseconds: anything larger is not a timer (and would spoil sums).
            guard value <= Int(Int32.max) else { return fail("timer out of range", s.p) }
            if plus { out.logASAP = true }
            switch count {
            case 0: timers.0 = value
            case 1: timers.1 = value
            case 2: timers.2 = value
            case 3: timers.3 = value
            default: timers.4 = value
            }
            count += 1
            if s.consume(0x2F) {
                guard count < 5 else { return fail("more than five timers", s.p) }
                continue
            }
            break
        }
        guard s.consumeSpace() else { return fail("space after timers expected", s.p) }
        if count == 3 {
            out.kind = .tcp
            out.queueTime = timers.0
            out.connectTime = timers.1
            out.totalTime = timers.2
            if depth == .throughStatus { return .traffic }
            guard readBytes(&s, &out), s.consumeSpace() else { return fail("byte count is not a number", s.p) }
            let ts = s.wordRange()
            guard ts.count == 2, s.consumeSpace() else { return fail("termination state is not 2 characters", s.p) }
            out.terminationState = TerminationState(cause: s.b[ts.lowerBound], phase: s.b[ts.lowerBound + 1])
            if depth == .throughTermination { return .traffic }
            guard readCounters(&s, &out, separator: 0x2F) else { return fail("connection counts malformed", s.p) }
            return .traffic
        }
        guard count == 5 else { return fail("expected 3 or 5 timers", s.p) }
        out.kind = .http
        out.requestTime = timers.0
        out.queueTime = timers.1
        out.connectTime = timers.2
        out.responseTime = timers.3
        out.totalTime = timers.4
        var plus = false
        guard let status = s.signedValue(plus: &plus), s.consumeSpace() else {
            return fail("status is not a number", s.p)
        }
        out.status = status
        if depth == .throughStatus { return .traffic }
        guard readBytes(&s, &out), s.consumeSpace() else { return fail("byte count is not a number", s.p) }
        let cc = s.wordRange()
        guard !cc.isEmpty, s.consumeSpace() else { return fail("request cookie missing", s.p) }
        out.requestCookie = s.isDash(cc) ? cc.lowerBound..<cc.lowerBound : cc
        let cs = s.wordRange()
        guard !cs.isEmpty, s.consumeSpace() else { return fail("response cookie missing", s.p) }
        out.responseCookie = s.isDash(cs) ? cs.lowerBound..<cs.lowerBound : cs
        guard readTerminationState(&s, &out) else { return fail("termination state is not 4 characters", s.p) }
        if depth == .throughTermination { return .traffic }
        guard readCounters(&s, &out, separator: 0x2F), s.consumeSpace() else {
            return fail("connection counts malformed", s.p)
        }
        // Optional {request captures} {response captures}: '}' inside a capture is escaped, so the first one ends it.
        var blocks = 0
        while s.peek == 0x7B {
            let open = s.p + 1
            guard let close = s.find(0x7D, from: open) else { return fail("capture block not closed", s.p) }
            if blocks == 0 { out.requestCaptures = open..<close } else { out.responseCaptures = open..<close }
            blocks += 1
            s.p = close + 1
            guard blocks <= 2, s.consumeSpace() else { return fail("unexpected text after captures", s.p) }
        }
        guard s.consume(0x22) else { return fail("request line is not quoted", s.p) }
        readRequestLine(&s, &out)
        return .traffic
    }

    /// `"GET /x HTTP/1.1"` with `s.p` after the opening quote; a missing closing quote (a cut line) is accepted.
    static func readRequestLine(_ s: inout Scan, _ out: inout HAProxyLogLine) {
        let start = s.p
        var end = s.end
        if end > start && s.b[end - 1] == 0x22 { end -= 1 }
        out.requestLine = start..<end
        // METHOD SP URI SP VERSION; a request line with no spaces (<BADREQ>) has only a method part.
        var i = start
        while i < end && s.b[i] != 0x20 { i += 1 }
        out.method = start..<i
        guard i < end else {
            out.uri = i..<i
            out.httpVersion = i..<i
            s.p = s.end
            return
        }
        let uriStart = i + 1
        var j = end
        while j > uriStart && s.b[j - 1] != 0x20 { j -= 1 }
        if j > uriStart {
            out.uri = uriStart..<(j - 1)
            out.httpVersion = j..<end
        } else {
            out.uri = uriStart..<end
            out.httpVersion = end..<end
        }
        s.p = s.end
    }

    /// `ip - - [dd/Mon/yyyy:HH:MM:SS +0000] "req" ST B "" "" cp ms "ft" "b" "s" TR Tw Tc Tr Ta tsc ac fc bc sc rc
    /// sq bq "CC" "CS" [captures]`, `s.p` after the `[`.
    private static func readCLF(
        _ s: inout Scan, _ out: inout HAProxyLogLine, client: Range<Int>, _ depth: HAProxyLogParseDepth
    ) -> HAProxyLogParseStatus {
        out.kind = .clf
        out.clientIP = client
        out.dateRange = s.p..<(s.p + 20)
        guard var date = readDate(&s, milliseconds: false), s.hasPrefix(" +0000] \"", at: s.p) else {
            return fail("date is not [dd/Mon/yyyy:HH:MM:SS +0000]", s.p)
        }
        s.p += 9
        guard let close = s.find(0x22, from: s.p) else { return fail("request line is not quoted", s.p) }
        var requestScan = Scan(b: s.b, p: s.p, end: close + 1)
        readRequestLine(&requestScan, &out)
        s.p = close + 1
        var plus = false
        guard s.consumeSpace(), let status = s.signedValue(plus: &plus), s.consumeSpace() else {
            return fail("status is not a number", s.p)
        }
        out.status = status
        guard readBytes(&s, &out), s.hasPrefix(" \"\" \"\" ", at: s.p) else {
            return fail("byte count is not a number", s.p)
        }
        s.p += 7
        guard let port = s.unsignedWord(), s.consumeSpace(), let ms = s.unsignedWord(), ms < 1000,
            s.consumeSpace()
        else { return fail("client port or milliseconds malformed", s.p) }
        out.clientPort = port
        date.microsecond = ms * 1000
        out.date = date
        guard let frontend = s.quoted(), s.consumeSpace(), let backend = s.quoted(), s.consumeSpace(),
            let server = s.quoted(), s.consumeSpace()
        else { return fail("frontend, backend or server not quoted", s.p) }
        if !frontend.isEmpty && s.b[frontend.upperBound - 1] == 0x7E {
            out.frontendTLS = true
            out.frontend = frontend.lowerBound..<(frontend.upperBound - 1)
        } else {
            out.frontend = frontend
        }
        out.backend = backend
        out.server = server
        var timers = [0, 0, 0, 0, 0]
        for k in 0..<5 {
            var asap = false
            guard let v = s.signedValue(plus: &asap), v <= Int(Int32.max), s.consumeSpace() else {
                return fail("timer malformed", s.p)
            }
            if asap { out.logASAP = true }
            timers[k] = v
        }
        out.requestTime = timers[0]
        out.queueTime = timers[1]
        out.connectTime = timers[2]
        out.responseTime = timers[3]
        out.totalTime = timers[4]
        guard readTerminationState(&s, &out) else { return fail("termination state is not 4 characters", s.p) }
        guard readCounters(&s, &out, separator: 0x20), s.consumeSpace() else {
            return fail("connection counts malformed", s.p)
        }
        guard let cc = s.quoted(), s.consumeSpace(), let cs = s.quoted() else {
            return fail("cookies not quoted", s.p)
        }
        out.requestCookie = cc
        out.responseCookie = cs
        // What follows %CS: a space, then quoted capture values, if any.
        if s.consumeSpace() && s.p < s.end {
            var end = s.end
            if s.b[end - 1] == 0x20 { end -= 1 }
            out.requestCaptures = s.p..<end
        }
        s.p = s.end
        return .traffic
    }

    // MARK: Fields

    /// `dd/Mon/yyyy:HH:MM:SS[.mmm]`
    static func readDate(_ s: inout Scan, milliseconds: Bool) -> CivilTime? {
        let b = s.b
        let p = s.p
        let length = milliseconds ? 24 : 20
        guard s.end - p >= length, b[p + 2] == 0x2F, b[p + 6] == 0x2F, b[p + 11] == 0x3A, b[p + 14] == 0x3A,
            b[p + 17] == 0x3A,
            let day = digits2(b, p), let month = CivilTime.month(b[p + 3], b[p + 4], b[p + 5]),
            let y1 = digits2(b, p + 7), let y2 = digits2(b, p + 9), let hour = digits2(b, p + 12),
            let minute = digits2(b, p + 15), let second = digits2(b, p + 18),
            (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var ms = 0
        if milliseconds {
            guard b[p + 20] == 0x2E, ASCII.isDigit(b[p + 21]), ASCII.isDigit(b[p + 22]), ASCII.isDigit(b[p + 23])
            else { return nil }
            ms = Int(b[p + 21] &- 0x30) * 100 + Int(b[p + 22] &- 0x30) * 10 + Int(b[p + 23] &- 0x30)
        }
        s.p = p + length
        return CivilTime(
            year: y1 * 100 + y2, month: month, day: day, hour: hour, minute: minute, second: second,
            microsecond: ms * 1000)
    }

    @inline(__always)
    private static func digits2(_ b: UnsafeBufferPointer<UInt8>, _ p: Int) -> Int? {
        let d0 = b[p] &- 0x30
        let d1 = b[p + 1] &- 0x30
        guard d0 < 10, d1 < 10 else { return nil }
        return Int(d0) * 10 + Int(d1)
    }

    /// `[+]digits` into `bytesRead` (64-bit).
    private static func readBytes(_ s: inout Scan, _ out: inout HAProxyLogLine) -> Bool {
        if s.consume(0x2B) { out.logASAP = true }
        let start = s.p
        // Up to 17 digits the fast reader is exact; longer counts take the overflow-checked loop.
        if let value = s.digits(), s.p - start < 18, s.p == s.end || !ASCII.isDigit(s.b[s.p]) {
            out.bytesRead = Int64(value)
            return true
        }
        s.p = start
        var value: Int64 = 0
        while s.p < s.end && ASCII.isDigit(s.b[s.p]) {
            // 64-bit like HAProxy's counter; a count that does not fit is not a count.
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(s.b[s.p] &- 0x30))
            if o1 || o2 { return false }
            value = sum
            s.p += 1
        }
        guard s.p > start else { return false }
        out.bytesRead = value
        return true
    }

    /// `%tsc`: four characters and a space.
    private static func readTerminationState(_ s: inout Scan, _ out: inout HAProxyLogLine) -> Bool {
        let tsc = s.wordRange()
        guard tsc.count == 4, s.consumeSpace() else { return false }
        out.terminationState = TerminationState(
            cause: s.b[tsc.lowerBound], phase: s.b[tsc.lowerBound + 1], clientCookie: s.b[tsc.lowerBound + 2],
            serverCookie: s.b[tsc.lowerBound + 3])
        return true
    }

    /// `ac/fc/bc/sc/[+]rc sq/bq` (CLF: all separated by spaces).
    private static func readCounters(_ s: inout Scan, _ out: inout HAProxyLogLine, separator: UInt8) -> Bool {
        var plus = false
        guard let ac = s.signedValue(plus: &plus), s.consume(separator),
            let fc = s.signedValue(plus: &plus), s.consume(separator),
            let bc = s.signedValue(plus: &plus), s.consume(separator),
            let sc = s.signedValue(plus: &plus), s.consume(separator)
        else { return false }
        var redispatched = false
        guard let rc = s.signedValue(plus: &redispatched), s.consumeSpace() else { return false }
        guard let sq = s.signedValue(plus: &plus), s.consume(separator), let bq = s.signedValue(plus: &plus) else {
            return false
        }
        out.activeConnections = ac
        out.frontendConnections = fc
        out.backendConnections = bc
        out.serverConnections = sc
        out.retries = rc
        out.redispatched = redispatched
        out.serverQueue = sq
        out.backendQueue = bq
        return true
    }

    @inline(__always)
    private static func fail(_ reason: String, _ offset: Int) -> HAProxyLogParseStatus {
        .malformed(HAProxyLogParseError(reason: reason, offset: offset))
    }
}

/// A cursor over one line's bytes. Every read checks `end`, so no input can make it read out of bounds.
struct Scan {
    let b: UnsafeBufferPointer<UInt8>
    var p: Int
    let end: Int

    @inline(__always)
    var peek: UInt8? { p < end ? b[p] : nil }

    @inline(__always)
    mutating func consume(_ byte: UInt8) -> Bool {
        guard p < end, b[p] == byte else { return false }
        p += 1
        return true
    }

    @inline(__always)
    mutating func consumeSpace() -> Bool { consume(0x20) }

    /// Moves `p` to the next space or the end. Eight bytes at a time where eight remain (the has-zero-byte trick
    /// on the bytes XORed with spaces), as halog does.
    @inline(__always)
    mutating func skipToSpace() {
        if let base = b.baseAddress {
            let raw = UnsafeRawPointer(base)
            while end - p >= 8 {
                let word = raw.loadUnaligned(fromByteOffset: p, as: UInt64.self) ^ 0x2020_2020_2020_2020
                let zeroes = (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080
                if zeroes != 0 {
                    p += (UInt64(littleEndian: zeroes).trailingZeroBitCount) >> 3
                    return
                }
                p += 8
            }
        }
        while p < end && b[p] != 0x20 { p += 1 }
    }

    /// The bytes up to the next space (or the end); `p` stops at the space.
    @inline(__always)
    mutating func wordRange() -> Range<Int> {
        let start = p
        skipToSpace()
        return start..<p
    }

    func hasPrefix(_ literal: StaticString, at offset: Int) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard end - offset >= n else { return false }
        let base = literal.utf8Start
        for i in 0..<n where b[offset + i] != base[i] { return false }
        return true
    }

    func find(_ byte: UInt8, from start: Int) -> Int? {
        var i = start
        while i < end {
            if b[i] == byte { return i }
            i += 1
        }
        return nil
    }

    func isDash(_ r: Range<Int>) -> Bool { r.count == 1 && b[r.lowerBound] == 0x2D }

    /// An optionally `+`- or `-`-prefixed decimal; `plus` is set when a `+` was seen.
    @inline(__always)
    mutating func signedValue(plus: inout Bool) -> Int? {
        var negative = false
        if p < end {
            if b[p] == 0x2D {
                negative = true
                p += 1
            } else if b[p] == 0x2B {
                plus = true
                p += 1
            }
        }
        guard let value = digits() else { return nil }
        return negative ? -value : value
    }

    /// The decimal number at `p` (at most 18 digits), `p` moved past it; nil when no digit is there.
    ///
    /// Log fields are numbers of random lengths, and a byte-at-a-time loop mispredicts its exit on nearly every
    /// field. Where eight bytes remain, this finds the length and the value of up to eight digits without a
    /// data-dependent branch: mark the non-digit bytes, count the leading digits, and combine them pairwise with
    /// three multiplications.
    @inline(__always)
    mutating func digits() -> Int? {
        if end - p >= 8, let base = b.baseAddress {
            let word = UInt64(littleEndian: UnsafeRawPointer(base).loadUnaligned(fromByteOffset: p, as: UInt64.self))
            let x = word ^ 0x3030_3030_3030_3030
            // A byte is a digit when x <= 9: adding 0x76 sets its high bit otherwise (or it was set already).
            // Carries can only disturb bytes after the first non-digit, which are not looked at.
            let nonDigit = ((x &+ 0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080
            let count = nonDigit.trailingZeroBitCount >> 3
            if count == 0 { return nil }
            if count < 8 {
                var v = x << UInt64((8 - count) * 8)
                v = ((v & 0x0F0F_0F0F_0F0F_0F0F) &* 2561) >> 8
                v = ((v & 0x00FF_00FF_00FF_00FF) &* 6_553_601) >> 16
                v = ((v & 0x0000_FFFF_0000_FFFF) &* 42_949_672_960_001) >> 32
                p += count
                return Int(v)
            }
        }
        let start = p
        var value = 0
        while p < end {
            let d = b[p] &- 0x30
            guard d < 10, p - start < 18 else { break }
            value = value &* 10 &+ Int(d)
            p += 1
        }
        return p > start ? value : nil
    }

    /// Digits up to the next space, none other allowed.
    mutating func unsignedWord() -> Int? {
        let r = wordRange()
        return unsignedValue(in: r)
    }

    func unsignedValue(in r: Range<Int>) -> Int? {
        guard !r.isEmpty, r.count <= 18 else { return nil }
        var sub = Scan(b: b, p: r.lowerBound, end: r.upperBound)
        guard let value = sub.digits(), sub.p == r.upperBound else { return nil }
        return value
    }

    /// `"…"`: the range inside the quotes (escaped text contains no quote).
    mutating func quoted() -> Range<Int>? {
        guard consume(0x22), let close = find(0x22, from: p) else { return nil }
        let r = p..<close
        p = close + 1
        return r
    }
}
