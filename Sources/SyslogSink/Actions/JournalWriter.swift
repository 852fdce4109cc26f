import CSystemd
import LogCore
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// omjournal without a template: each message goes to systemd-journald through libsystemd's `sd_journal_sendv`
/// with the fields rsyslog 8.2302 sends: MESSAGE (the MSG as stored, leading space kept, trailing whitespace cut
/// as `sd_journal_send` does), PRIORITY (the severity), SYSLOG_FACILITY and SYSLOG_IDENTIFIER (the whole TAG,
/// `sshd[123]:`). Journald adds its own fields (_PID, _TRANSPORT=journal, timestamps). Lives on the ruleset's
/// thread.
final class JournalWriter {
    private(set) var sent = 0
    private(set) var failed = 0
    private(set) var lastError: String?
    private var fields: [UInt8] = []

    func send(_ message: SyslogMessage) {
        fields.removeAll(keepingCapacity: true)
        var ends: [Int] = []
        ends.reserveCapacity(4)
        var msg = message.msg
        while let last = msg.last, last == 0x20 || last == 0x09 || last == 0x0A || last == 0x0D { msg.removeLast() }
        fields.append(contentsOf: "MESSAGE=".utf8)
        fields.append(contentsOf: msg)
        ends.append(fields.count)
        fields.append(contentsOf: "PRIORITY=".utf8)
        fields.appendDecimal(Int(message.priority.severity.rawValue))
        ends.append(fields.count)
        fields.append(contentsOf: "SYSLOG_FACILITY=".utf8)
        fields.appendDecimal(Int(message.priority.facility.rawValue))
        ends.append(fields.count)
        fields.append(contentsOf: "SYSLOG_IDENTIFIER=".utf8)
        fields.append(contentsOf: message.syslogTag)
        ends.append(fields.count)
        let rc = fields.withUnsafeMutableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress else { return -EINVAL }
            var vectors: [iovec] = []
            var start = 0
            for end in ends {
                vectors.append(iovec(iov_base: base + start, iov_len: end - start))
                start = end
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
        if rc < 0 {
            failed += 1
            lastError = "sd_journal_sendv: \(String(cString: strerror(-rc)))"
        } else {
            sent += 1
        }
    }
}
