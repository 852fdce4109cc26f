import LogCore

/// HAProxy 2.6's built-in traffic log formats, rendered byte for byte.
public enum HAProxyLogFormat: String, CaseIterable, Hashable, Sendable {
    /// `option tcplog`:
    /// `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`
    case tcplog
    /// `option httplog` (1.7 and later):
    /// `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r`
    case httplog
    /// `option httplog clf`:
    /// `%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq
    /// %bq %CC %CS %hrl %hsl`
    case clf

    /// The format a record is normally logged in: tcplog for TCP sessions, httplog for HTTP requests.
    public static func `default`(for record: HAProxyLogRecord) -> HAProxyLogFormat {
        record.mode == .tcp ? .tcplog : .httplog
    }

    /// Appends the log line (without syslog header and without newline).
    public func format(_ r: HAProxyLogRecord, into out: inout [UInt8]) {
        switch self {
        case .tcplog: formatTCP(r, into: &out)
        case .httplog: formatHTTP(r, into: &out)
        case .clf: formatCLF(r, into: &out)
        }
    }

    /// The log line as bytes.
    public func format(_ r: HAProxyLogRecord) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(192 + r.requestLine.utf8.count)
        format(r, into: &out)
        return out
    }

    /// The log line as text.
    public func formatString(_ r: HAProxyLogRecord) -> String {
        String(decoding: format(r), as: UTF8.self)
    }

    private func formatTCP(_ r: HAProxyLogRecord, into out: inout [UInt8]) {
        appendClientAndDate(r, into: &out)
        appendFrontendBackendServer(r, into: &out)
        out.appendDecimal(r.queueTime)
        out.append(0x2F)
        out.appendDecimal(r.connectTime)
        out.append(0x2F)
        if r.logASAP { out.append(0x2B) }
        out.appendDecimal(r.totalTime)
        out.append(0x20)
        appendBytes(r, into: &out)
        out.append(0x20)
        out.append(r.terminationState.cause)
        out.append(r.terminationState.phase)
        out.append(0x20)
        appendCounters(r, separator: 0x2F, into: &out)
    }

    private func formatHTTP(_ r: HAProxyLogRecord, into out: inout [UInt8]) {
        appendClientAndDate(r, into: &out)
        appendFrontendBackendServer(r, into: &out)
        appendTimers(r, separator: 0x2F, into: &out)
        out.append(0x20)
        out.appendDecimal(r.status)
        out.append(0x20)
        appendBytes(r, into: &out)
        out.append(0x20)
        appendText(r.requestCookie, quoted: false, into: &out)
        out.append(0x20)
        appendText(r.responseCookie, quoted: false, into: &out)
        out.append(0x20)
        appendTermination(r, into: &out)
        out.append(0x20)
        appendCounters(r, separator: 0x2F, into: &out)
        // %hr and %hs write nothing when no captures are configured, and an empty item takes its separator with it.
        if let captures = r.requestHeaders {
            out.append(0x20)
            HAProxyLogFormat.appendCaptureBlock(captures, into: &out)
        }
        if let captures = r.responseHeaders {
            out.append(0x20)
            HAProxyLogFormat.appendCaptureBlock(captures, into: &out)
        }
        out.append(0x20)
        out.append(0x22)
        HAProxyLogFormat.appendEscaped(r.requestLine.utf8, captures: false, into: &out)
        out.append(0x22)
    }

    private func formatCLF(_ r: HAProxyLogRecord, into out: inout [UInt8]) {
        out.append(string: r.clientIP)
        out.append(contentsOf: " - - [".utf8)
        // %trg: the request date in GMT, to the second, with a literal +0000.
        let gmt = r.date.converted(toUTCOffset: 0)
        HAProxyLogFormat.appendDate(gmt, milliseconds: false, into: &out)
        out.append(contentsOf: " +0000] \"".utf8)
        HAProxyLogFormat.appendEscaped(r.requestLine.utf8, captures: false, into: &out)
        out.append(contentsOf: "\" ".utf8)
        out.appendDecimal(r.status)
        out.append(0x20)
        appendBytes(r, into: &out)
        out.append(contentsOf: " \"\" \"\" ".utf8)
        out.appendDecimal(r.clientPort)
        out.append(0x20)
        out.appendDecimal(r.date.microsecond / 1000, width: 3)
        out.append(0x20)
        appendText(r.frontend + (r.frontendTLS ? "~" : ""), quoted: true, into: &out)
        out.append(0x20)
        appendText(r.backend, quoted: true, into: &out)
        out.append(0x20)
        appendText(r.server, quoted: true, into: &out)
        out.append(0x20)
        appendTimers(r, separator: 0x20, into: &out)
        out.append(0x20)
        appendTermination(r, into: &out)
        out.append(0x20)
        appendCounters(r, separator: 0x20, into: &out)
        out.append(0x20)
        appendText(r.requestCookie, quoted: true, into: &out)
        out.append(0x20)
        appendText(r.responseCookie, quoted: true, into: &out)
        // Separators follow an item only when it wrote something and another item follows in the format: the
        // space after %CS always comes, the one after %hrl only if it wrote, and none after %hsl. So a CLF line
        // without captures ends in one space.
        out.append(0x20)
        if let list = r.requestHeaders, !list.isEmpty {
            HAProxyLogFormat.appendQuotedList(list, into: &out)
            out.append(0x20)
        }
        if let list = r.responseHeaders, !list.isEmpty {
            HAProxyLogFormat.appendQuotedList(list, into: &out)
        }
    }

    /// `%hrl` / `%hsl` under `+Q`: `"a" "b"`.
    static func appendQuotedList(_ values: [String], into out: inout [UInt8]) {
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(0x20) }
            out.append(0x22)
            appendEscaped(value.utf8, captures: true, into: &out)
            out.append(0x22)
        }
    }

    // MARK: Pieces

    private func appendClientAndDate(_ r: HAProxyLogRecord, into out: inout [UInt8]) {
        out.append(string: r.clientIP)
        out.append(0x3A)
        out.appendDecimal(r.clientPort)
        out.append(contentsOf: " [".utf8)
        HAProxyLogFormat.appendDate(r.date, milliseconds: true, into: &out)
        out.append(contentsOf: "] ".utf8)
    }

    private func appendFrontendBackendServer(_ r: HAProxyLogRecord, into out: inout [UInt8]) {
        out.append(string: r.frontend)
        if r.frontendTLS { out.append(0x7E) }
        out.append(0x20)
        out.append(string: r.backend)
        out.append(0x2F)
        out.append(string: r.server)
        out.append(0x20)
    }

    private func appendTimers(_ r: HAProxyLogRecord, separator: UInt8, into out: inout [UInt8]) {
        out.appendDecimal(r.requestTime)
        out.append(separator)
        out.appendDecimal(r.queueTime)
        out.append(separator)
        out.appendDecimal(r.connectTime)
        out.append(separator)
        out.appendDecimal(r.responseTime)
        out.append(separator)
        if r.logASAP { out.append(0x2B) }
        out.appendDecimal(r.totalTime)
    }

    private func appendBytes(_ r: HAProxyLogRecord, into out: inout [UInt8]) {
        if r.logASAP { out.append(0x2B) }
        out.appendDecimal(Int(r.bytesRead))
    }

    private func appendTermination(_ r: HAProxyLogRecord, into out: inout [UInt8]) {
        let t = r.terminationState
        out.append(t.cause)
        out.append(t.phase)
        out.append(t.clientCookie)
        out.append(t.serverCookie)
    }

    private func appendCounters(_ r: HAProxyLogRecord, separator: UInt8, into out: inout [UInt8]) {
        out.appendDecimal(r.activeConnections)
        out.append(separator)
        out.appendDecimal(r.frontendConnections)
        out.append(separator)
        out.appendDecimal(r.backendConnections)
        out.append(separator)
        out.appendDecimal(r.serverConnections)
        out.append(separator)
        if r.redispatched { out.append(0x2B) }
        out.appendDecimal(r.retries)
        out.append(0x20)
        out.appendDecimal(r.serverQueue)
        out.append(separator)
        out.appendDecimal(r.backendQueue)
    }

    /// A string item: `-` when empty, or `""` / `"value"` under the `Q` flag.
    private func appendText(_ text: String, quoted: Bool, into out: inout [UInt8]) {
        if quoted {
            out.append(0x22)
            HAProxyLogFormat.appendEscaped(text.utf8, captures: false, into: &out)
            out.append(0x22)
        } else if text.isEmpty {
            out.append(0x2D)
        } else {
            HAProxyLogFormat.appendEscaped(text.utf8, captures: false, into: &out)
        }
    }

    /// `{a|b}`: a capture block, each value escaped.
    static func appendCaptureBlock(_ values: [String], into out: inout [UInt8]) {
        out.append(0x7B)
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(0x7C) }
            appendEscaped(value.utf8, captures: true, into: &out)
        }
        out.append(0x7D)
    }

    /// `dd/Mon/yyyy:HH:MM:SS[.mmm]`
    public static func appendDate(_ d: CivilTime, milliseconds: Bool, into out: inout [UInt8]) {
        out.appendDecimal(d.day, width: 2)
        out.append(0x2F)
        out.appendMonthAbbreviation(d.month)
        out.append(0x2F)
        out.appendDecimal(d.year, width: 4)
        out.append(0x3A)
        out.appendClock(hour: d.hour, minute: d.minute, second: d.second)
        if milliseconds {
            out.append(0x2E)
            out.appendDecimal(d.microsecond / 1000, width: 3)
        }
    }

    /// HAProxy's log escaping: bytes outside 32...126, `"` and `#` become `#XX` (upper-case hex); in header
    /// captures `{`, `|` and `}` too. A space is kept.
    public static func appendEscaped(_ bytes: some Sequence<UInt8>, captures: Bool, into out: inout [UInt8]) {
        // Most fields need no escape: copied whole.
        let copied: Bool? = bytes.withContiguousStorageIfAvailable { buffer in
            for b in buffer where needsEscape(b, captures: captures) { return false }
            out.append(contentsOf: buffer)
            return true
        }
        if copied == true { return }
        for b in bytes {
            if needsEscape(b, captures: captures) {
                out.append(0x23)
                out.append(ASCII.hexDigit(b >> 4))
                out.append(ASCII.hexDigit(b & 0x0F))
            } else {
                out.append(b)
            }
        }
    }

    @inline(__always)
    static func needsEscape(_ b: UInt8, captures: Bool) -> Bool {
        if b < 0x20 || b > 0x7E || b == 0x22 || b == 0x23 { return true }
        return captures && (b == 0x7B || b == 0x7C || b == 0x7D)
    }

    /// Undoes ``appendEscaped(_:captures:into:)``: `#XX` back to its byte (a `#` not followed by two hex digits
    /// is kept as it is).
    public static func unescape(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let b = bytes[i]
            if b == 0x23 {
                let h = bytes.index(after: i)
                if h != bytes.endIndex {
                    let l = bytes.index(after: h)
                    if l != bytes.endIndex, let hi = ASCII.hexValue(bytes[h]), let lo = ASCII.hexValue(bytes[l]) {
                        out.append(hi << 4 | lo)
                        i = bytes.index(after: l)
                        continue
                    }
                }
            }
            out.append(b)
            i = bytes.index(after: i)
        }
        return out
    }
}
