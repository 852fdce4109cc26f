import LogCore

/// The syslog header HAProxy puts in front of every log line, per `log … format <fmt>`.
public enum HAProxyLogHeaderFormat: String, CaseIterable, Sendable {
    /// `<134>Nov 26 08:51:02 haproxy[6296]: MSG` (no hostname: the receiver fills it in).
    case local
    /// `<134>Nov 26 08:51:02 HOST haproxy[6296]: MSG` (HOST falls back to `localhost`).
    case rfc3164
    /// `<134>1 2026-11-26T08:51:02.452387+00:00 HOST haproxy 6296 - - MSG` (HOST `-` unless set).
    case rfc5424
    /// `<134>MSG`
    case priority
    /// `<6>MSG`: the level only.
    case short
    /// `<6>2026-11-26T08:51:02.452414+00:00 MSG`
    case timed
    /// `2026-11-26T08:51:02.452419+00:00 MSG`
    case iso
    /// `MSG`
    case raw
}

/// Builds the datagrams HAProxy 2.6 sends for one `log` target, byte for byte.
///
/// Every datagram is header + message + one `\n`. Trailing `\n` and NUL bytes of the message are dropped first;
/// header + message are then cut to `maxLength` (HAProxy's `len`, default 1024) and the `\n` appended, so a
/// datagram is at most `maxLength + 1` bytes.
public struct HAProxySyslogHeader: Hashable, Sendable {
    /// The target's `format`; nil when none was given (then `rfc3164` if a hostname is set, else `local`).
    public var format: HAProxyLogHeaderFormat?
    public var facility: Facility
    /// `log-tag`, `haproxy` by default.
    public var tag: String
    public var pid: Int
    /// `log-send-hostname`: nil when not configured.
    public var hostname: String?
    /// The target's `len` (80...65535).
    public var maxLength: Int

    public static let defaultMaxLength = 1024

    public init(
        format: HAProxyLogHeaderFormat? = nil, facility: Facility = .local0, tag: String = "haproxy", pid: Int,
        hostname: String? = nil, maxLength: Int = HAProxySyslogHeader.defaultMaxLength
    ) {
        self.format = format
        self.facility = facility
        self.tag = tag
        self.pid = pid
        self.hostname = hostname
        self.maxLength = maxLength
    }

    /// The format actually used: an explicit one, or HAProxy's choice at send time.
    public var effectiveFormat: HAProxyLogHeaderFormat {
        format ?? (hostname == nil ? .local : .rfc3164)
    }

    /// The datagram for one log line at `severity`, sent at `time` (local time, as HAProxy stamps it).
    public func datagram(message: some Collection<UInt8>, severity: Severity, time: CivilTime) -> [UInt8] {
        datagram(severity: severity, time: time, capacity: min(message.count, maxLength) + 64) {
            $0.append(contentsOf: message)
        }
    }

    /// The same, the message written by `write` straight after the header (no array of its own is made for it).
    public func datagram(
        severity: Severity, time: CivilTime, capacity: Int = 320, message write: (inout [UInt8]) -> Void
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(capacity)
        append(severity: severity, time: time, to: &out, message: write)
        return out
    }

    /// Appends the datagram to `out` (after what it holds: several datagrams can share one array).
    public func append(
        severity: Severity, time: CivilTime, to out: inout [UInt8], message write: (inout [UInt8]) -> Void
    ) {
        let datagramStart = out.count
        appendHeader(severity: severity, time: time, to: &out)
        appendMessage(datagramStart: datagramStart, to: &out, message: write)
    }

    /// Whether the header is the same for every line of one second at one severity (its stamp has no fraction),
    /// so that a sender of many lines can make it once per second (`header(severity:time:)`).
    public var headerIsPerSecond: Bool {
        switch effectiveFormat {
        case .rfc5424, .timed, .iso: false
        case .local, .rfc3164, .priority, .short, .raw: true
        }
    }

    /// The header alone, for `append(header:to:message:)`.
    public func header(severity: Severity, time: CivilTime) -> [UInt8] {
        var out: [UInt8] = []
        appendHeader(severity: severity, time: time, to: &out)
        return out
    }

    /// Appends a datagram whose header was made before (the same bytes `append(severity:time:to:message:)` would
    /// write for it).
    public func append(header: [UInt8], to out: inout [UInt8], message write: (inout [UInt8]) -> Void) {
        let datagramStart = out.count
        out.append(contentsOf: header)
        appendMessage(datagramStart: datagramStart, to: &out, message: write)
    }

    private func appendMessage(datagramStart: Int, to out: inout [UInt8], message write: (inout [UInt8]) -> Void) {
        let start = out.count
        write(&out)
        // A message's own line end (or C string end) is not doubled.
        while out.count > start, out[out.count - 1] == 0x0A || out[out.count - 1] == 0 { out.removeLast() }
        if out.count - datagramStart > maxLength { out.removeLast(out.count - datagramStart - maxLength) }
        out.append(0x0A)
    }

    /// The datagram for a text log line.
    public func datagram(_ message: String, severity: Severity, time: CivilTime) -> [UInt8] {
        datagram(message: Array(message.utf8), severity: severity, time: time)
    }

    func appendHeader(severity: Severity, time: CivilTime, to out: inout [UInt8]) {
        let pri = Priority(facility: facility, severity: severity).value
        switch effectiveFormat {
        case .local, .rfc3164:
            appendPRI(pri, to: &out)
            appendLegacyTime(time, to: &out)
            if effectiveFormat == .rfc3164 {
                out.append(string: hostname ?? "localhost")
                out.append(0x20)
            }
            out.append(string: tag)
            out.append(0x5B)
            out.appendDecimal(pid)
            out.append(contentsOf: "]: ".utf8)
        case .rfc5424:
            appendPRI(pri, to: &out)
            out.append(contentsOf: "1 ".utf8)
            HAProxySyslogHeader.appendISOTime(time, to: &out)
            out.append(0x20)
            out.append(string: hostname ?? "-")
            out.append(0x20)
            out.append(string: tag)
            out.append(0x20)
            out.appendDecimal(pid)
            out.append(contentsOf: " - - ".utf8)
        case .priority:
            appendPRI(pri, to: &out)
        case .short:
            appendPRI(Int(severity.rawValue), to: &out)
        case .timed:
            appendPRI(Int(severity.rawValue), to: &out)
            HAProxySyslogHeader.appendISOTime(time, to: &out)
            out.append(0x20)
        case .iso:
            HAProxySyslogHeader.appendISOTime(time, to: &out)
            out.append(0x20)
        case .raw:
            break
        }
    }

    private func appendPRI(_ value: Int, to out: inout [UInt8]) {
        out.append(0x3C)
        out.appendDecimal(value)
        out.append(0x3E)
    }

    /// `Nov  6 08:51:02 `: printf `"%s %2d %02d:%02d:%02d "`, the RFC 3164 stamp and a space.
    private func appendLegacyTime(_ t: CivilTime, to out: inout [UInt8]) {
        SyslogTimestamp(t).appendRFC3164(to: &out)
        out.append(0x20)
    }

    /// `2026-11-26T08:51:02.452387+00:00`: always six fraction digits and a numeric offset.
    public static func appendISOTime(_ t: CivilTime, to out: inout [UInt8]) {
        SyslogTimestamp(t).appendRFC3339(to: &out)
    }
}
