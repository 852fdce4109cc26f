import LogCore
import Testing

@testable import SyslogProtocol

@Suite("The datagrams HAProxy sends")
struct HAProxySyslogHeaderTests {
    // 2026-11-26 08:51:02.452387 UTC, as in the captures HAProxy 2.6 produced.
    let time = CivilTime(year: 2026, month: 11, day: 26, hour: 8, minute: 51, second: 2, microsecond: 452_387)
    let message =
        "127.0.0.1:44124 [26/Nov/2026:08:51:02.451] fe_http be_http/s1 0/0/0/0/0 200 185 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\""

    @Test func everyFormat() {
        func datagram(_ format: HAProxyLogHeaderFormat?, hostname: String? = nil) -> String {
            let header = HAProxySyslogHeader(format: format, facility: .local0, pid: 6296, hostname: hostname)
            return String(decoding: header.datagram(message, severity: .informational, time: time), as: UTF8.self)
        }
        #expect(datagram(.local) == "<134>Nov 26 08:51:02 haproxy[6296]: \(message)\n")
        #expect(datagram(nil) == "<134>Nov 26 08:51:02 haproxy[6296]: \(message)\n")
        #expect(datagram(nil, hostname: "myhost") == "<134>Nov 26 08:51:02 myhost haproxy[6296]: \(message)\n")
        #expect(datagram(.local, hostname: "myhost") == "<134>Nov 26 08:51:02 haproxy[6296]: \(message)\n")
        #expect(datagram(.rfc3164) == "<134>Nov 26 08:51:02 localhost haproxy[6296]: \(message)\n")
        #expect(datagram(.rfc5424) == "<134>1 2026-11-26T08:51:02.452387+00:00 - haproxy 6296 - - \(message)\n")
        #expect(
            datagram(.rfc5424, hostname: "h")
                == "<134>1 2026-11-26T08:51:02.452387+00:00 h haproxy 6296 - - \(message)\n")
        #expect(datagram(.priority) == "<134>\(message)\n")
        #expect(datagram(.short) == "<6>\(message)\n")
        #expect(datagram(.timed) == "<6>2026-11-26T08:51:02.452387+00:00 \(message)\n")
        #expect(datagram(.iso) == "2026-11-26T08:51:02.452387+00:00 \(message)\n")
        #expect(datagram(.raw) == "\(message)\n")
    }

    @Test func levelsAndTagsAndPadding() {
        var header = HAProxySyslogHeader(facility: .local0, tag: "mytag", pid: 9031)
        var t = time
        t.day = 6
        let down = header.datagram("Server be/s is DOWN.", severity: .alert, time: t)
        #expect(String(decoding: down, as: UTF8.self) == "<129>Nov  6 08:51:02 mytag[9031]: Server be/s is DOWN.\n")
        header.facility = .local7
        let emerg = header.datagram("x", severity: .emergency, time: t)
        #expect(String(decoding: emerg, as: UTF8.self).hasPrefix("<184>"))
        // A time east of UTC keeps its offset in the ISO forms.
        header.format = .iso
        let east = CivilTime(
            year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 5, microsecond: 6, utcOffsetSeconds: 5400)
        #expect(
            String(decoding: header.datagram("m", severity: .notice, time: east), as: UTF8.self)
                == "2026-01-02T03:04:05.000006+01:30 m\n")
    }

    @Test func truncationAndTrailingBytes() {
        let header = HAProxySyslogHeader(facility: .local0, pid: 6296, maxLength: 100)
        let long = String(repeating: "u", count: 3000)
        let datagram = header.datagram(long, severity: .informational, time: time)
        #expect(datagram.count == 101, "header + message cut to len, then the LF")
        #expect(datagram.last == 0x0A)
        let defaultHeader = HAProxySyslogHeader(facility: .local0, pid: 6296)
        #expect(defaultHeader.datagram(long, severity: .informational, time: time).count == 1025)
        let trailing = defaultHeader.datagram(message: Array("m\n\n\u{0}".utf8), severity: .informational, time: time)
        #expect(String(decoding: trailing, as: UTF8.self) == "<134>Nov 26 08:51:02 haproxy[6296]: m\n")
    }

    @Test func whatRsyslogMakesOfIt() {
        // The whole path of a line: HAProxy's datagram, rsyslog's parse, /var/log/haproxy.log.
        let header = HAProxySyslogHeader(facility: .local0, pid: 6296)
        let datagram = header.datagram(message, severity: .informational, time: time)
        let parsed = SyslogParser.parse(
            datagram, reception: SyslogReception(receivedAt: SyslogTimestamp(time), fromHost: "localhost"))
        #expect(parsed.priority == Priority(facility: .local0, severity: .informational))
        #expect(parsed.programNameString == "haproxy")
        #expect(
            SyslogTemplate.traditionalFileFormat.renderString(parsed)
                == "Nov 26 08:51:02 localhost haproxy[6296]: \(message)\n")
    }
}
