/// rsyslog's built-in templates, rendered byte for byte as rsyslog 8 renders them.
public enum SyslogTemplate: String, CaseIterable, Sendable {
    /// `%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n`: Debian's
    /// /var/log/haproxy.log lines, the form halog reads.
    case traditionalFileFormat = "RSYSLOG_TraditionalFileFormat"
    /// Like the traditional form with `date-rfc3339` timestamps: rsyslog's omfile default.
    case fileFormat = "RSYSLOG_FileFormat"
    /// `%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg%\n`.
    case sysklogdFileFormat = "RSYSLOG_SysklogdFileFormat"
    /// `<%PRI%>%TIMESTAMP% %HOSTNAME% %syslogtag:1:32%%msg:::sp-if-no-1st-sp%%msg%`: omfwd's default.
    case traditionalForwardFormat = "RSYSLOG_TraditionalForwardFormat"
    /// `<%PRI%>%TIMESTAMP:::date-rfc3339% %HOSTNAME% %syslogtag:1:32%%msg:::sp-if-no-1st-sp%%msg%`.
    case forwardFormat = "RSYSLOG_ForwardFormat"
    /// `<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% %MSGID% %STRUCTURED-DATA% %msg%\n`.
    case syslogProtocol23Format = "RSYSLOG_SyslogProtocol23Format"

    /// The template rsyslog's name (case-insensitively, as rsyslog looks names up) refers to.
    public init?(name: some StringProtocol) {
        let lowered = name.lowercased()
        guard let match = SyslogTemplate.allCases.first(where: { $0.rawValue.lowercased() == lowered }) else {
            return nil
        }
        self = match
    }

    /// Renders `message` and appends it to `out`.
    public func render(_ message: SyslogMessage, into out: inout [UInt8]) {
        switch self {
        case .traditionalFileFormat, .fileFormat, .sysklogdFileFormat:
            // TIMESTAMP HOSTNAME syslogtag[ ]msg LF; all but the sysklogd form drop a last LF of the MSG.
            appendLegacyLine(message, rfc3339: self == .fileFormat, tagLimit: nil, into: &out)
            if self == .sysklogdFileFormat || message.msg.last != 0x0A {
                out.append(contentsOf: message.msg)
            } else {
                out.append(contentsOf: message.msg.dropLast())
            }
            out.append(0x0A)
        case .traditionalForwardFormat, .forwardFormat:
            // <PRI>TIMESTAMP HOSTNAME syslogtag:1:32[ ]msg, no LF (framing adds what the transport needs).
            appendPRI(message.priority, to: &out)
            appendLegacyLine(message, rfc3339: self == .forwardFormat, tagLimit: 32, into: &out)
            out.append(contentsOf: message.msg)
        case .syslogProtocol23Format:
            appendPRI(message.priority, to: &out)
            out.append(0x31)
            out.append(0x20)
            message.timestamp.appendRFC3339(to: &out)
            out.append(0x20)
            out.append(contentsOf: message.hostname)
            out.append(0x20)
            appendOrNil(message.appName, to: &out)
            out.append(0x20)
            appendOrNil(message.procID, to: &out)
            out.append(0x20)
            appendOrNil(message.msgID, to: &out)
            out.append(0x20)
            appendOrNil(message.structuredData, to: &out)
            out.append(0x20)
            out.append(contentsOf: message.msg)
            out.append(0x0A)
        }
    }

    /// Renders `message` as a new byte array.
    public func render(_ message: SyslogMessage) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.msg.count + 64)
        render(message, into: &out)
        return out
    }

    /// Renders `message` as text (invalid UTF-8 repaired; for display, not for files).
    public func renderString(_ message: SyslogMessage) -> String {
        String(decoding: render(message), as: UTF8.self)
    }

    private func appendPRI(_ priority: Priority, to out: inout [UInt8]) {
        out.append(0x3C)
        out.appendDecimal(priority.value)
        out.append(0x3E)
    }

    /// `TIMESTAMP HOSTNAME syslogtag` and, by `sp-if-no-1st-sp`, one space unless the MSG starts with one.
    private func appendLegacyLine(_ m: SyslogMessage, rfc3339: Bool, tagLimit: Int?, into out: inout [UInt8]) {
        if rfc3339 {
            m.timestamp.appendRFC3339(to: &out)
        } else {
            m.timestamp.appendRFC3164(to: &out)
        }
        out.append(0x20)
        out.append(contentsOf: m.hostname)
        out.append(0x20)
        let tag = m.syslogTag
        out.append(contentsOf: tagLimit.map { tag.prefix($0) } ?? tag)
        if m.msg.first != 0x20 { out.append(0x20) }
    }

    /// RFC 5424 header fields may not be empty: an empty one is written as NILVALUE.
    private func appendOrNil(_ field: ArraySlice<UInt8>, to out: inout [UInt8]) {
        if field.isEmpty { out.append(0x2D) } else { out.append(contentsOf: field) }
    }
}
