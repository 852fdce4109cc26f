import LogCore
import SyslogProtocol

/// One line of the kernel's log made a message as rsyslog 8.2302's imklog makes it on Linux (plugins/imklog:
/// bsd.c `submitSyslog`, imklog.c `Syslog` and `enqMsg`). No I/O: the reader hands lines in.
///
/// - The line is `<PRI>[ secs.usecs] text` (the stamp when `printk.time` is on). Without a PRI it is kern.info.
/// - `<6><30>text` (old systemd lines): a second PRI from 8 to 191 wins over the first.
/// - A facility other than kern is dropped unless `PermitNonKernelFacility` (user space writing to /dev/kmsg is
///   facility user).
/// - With `ParseKernelTimestamp`, and only after a one-digit PRI, the stamp (seconds since boot) becomes the
///   message's time and is cut from the text (the space after it stays) unless `KeepKernelTimestamp`.
/// - The text is not parsed: it is the whole MSG, under the tag `kernel:` and this machine's name.
struct KernelLogLine {
    let settings: KernelLogSettings
    /// This machine's name (HOSTNAME and fromhost).
    let host: [UInt8]

    private static let tag = Array("kernel:".utf8)
    private static let localIP = Array("127.0.0.1".utf8)

    /// The message for `line` (without its LF), or nil when imklog drops it. `now` is the reception time;
    /// `bootEpochMicroseconds` when the kernel's clock started (realtime minus monotonic), for parsed stamps.
    func message(
        _ line: ArraySlice<UInt8>, now: CivilTime, bootEpochMicroseconds: Int64
    ) -> SyslogMessage? {
        var text = line
        var time = now
        if settings.parseKernelTimestamp, text.count > 3, text[text.startIndex + 3] == 0x5B,  // [
            let (micros, end) = KernelLogLine.stamp(text, from: text.startIndex + 4)
        {
            time = CivilTime(
                epochMicroseconds: bootEpochMicroseconds + micros, utcOffsetSeconds: now.utcOffsetSeconds)
            if !settings.keepKernelTimestamp {
                // `<6>[ 12.5] text` → `<6> text`: bsd.c moves what follows `]` over the stamp.
                var cut = Array(text[..<(text.startIndex + 3)])
                cut.append(contentsOf: text[end...])
                text = cut[...]
            }
        }
        var priority = 6  // LOG_INFO: kern.info
        if let (second, after) = KernelLogLine.secondaryPRI(text) {
            priority = second
            text = text[after...]
        } else if let (first, after) = KernelLogLine.pri(text, at: text.startIndex) {
            priority = first
            text = text[after...]
        }
        guard priority < 8 || settings.permitNonKernelFacility else { return nil }
        let raw = Array(text)
        let stamp = SyslogTimestamp(time)
        var message = SyslogMessage(
            raw: raw, priority: Priority(value: priority) ?? Priority(facility: .kern, severity: .informational),
            timestamp: stamp, receivedAt: stamp, hostname: host[...], fromHost: host, tag: KernelLogLine.tag[...],
            msg: raw[...])
        message.fromHostIP = KernelLogLine.localIP
        return message
    }

    /// `<N>` at `at`: its value and the index after `>`.
    static func pri(_ text: ArraySlice<UInt8>, at: Int) -> (Int, Int)? {
        guard at < text.endIndex, text[at] == 0x3C else { return nil }  // <
        var value = 0
        var i = at + 1
        while i < text.endIndex, text[i] >= 0x30, text[i] <= 0x39, i - at <= 3 {
            value = value * 10 + Int(text[i] - 0x30)
            i += 1
        }
        guard i > at + 1, i < text.endIndex, text[i] == 0x3E, value <= 191 else { return nil }  // >
        return (value, i + 1)
    }

    /// A second PRI at offset 3 (`<6><30>`) or 4 (`<6> <30>`), from 8 to 191: the PRI imklog uses instead.
    static func secondaryPRI(_ text: ArraySlice<UInt8>) -> (Int, Int)? {
        let s = text.startIndex
        guard text.count > 4 else { return nil }
        let at: Int
        if text[s + 3] == 0x3C {
            at = s + 3
        } else if text[s + 3] == 0x20, text[s + 4] == 0x3C {
            at = s + 4
        } else {
            return nil
        }
        guard let (value, after) = pri(text, at: at), (8...191).contains(value) else { return nil }
        return (value, after)
    }

    /// `[ spaces secs . usecs ]` from `from` (just after `[`): microseconds since boot and the index after `]`.
    static func stamp(_ text: ArraySlice<UInt8>, from: Int) -> (Int64, Int)? {
        var i = from
        while i < text.endIndex, text[i] == 0x20 { i += 1 }
        var seconds: Int64 = 0
        var digits = 0
        while i < text.endIndex, text[i] >= 0x30, text[i] <= 0x39 {
            seconds = seconds * 10 + Int64(text[i] - 0x30)
            i += 1
            digits += 1
        }
        guard digits > 0, i < text.endIndex, text[i] == 0x2E else { return nil }  // .
        i += 1
        var micros: Int64 = 0
        var fraction = 0
        while i < text.endIndex, text[i] >= 0x30, text[i] <= 0x39 {
            if fraction < 6 { micros = micros * 10 + Int64(text[i] - 0x30) }
            fraction += 1
            i += 1
        }
        guard fraction > 0, i < text.endIndex, text[i] == 0x5D else { return nil }  // ]
        while fraction < 6 {
            micros *= 10
            fraction += 1
        }
        return (seconds * 1_000_000 + micros, i + 1)
    }
}
