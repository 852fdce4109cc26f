import LogCore
import Testing

@testable import SyslogProtocol

/// rsyslog's behaviours that shared knowledge of rsyslog 8.2302 records as verified, checked through the file
/// and forward templates the sink will write with.
@Suite("Parsing and templates as rsyslog 8")
struct SyslogParserTests {
    let reception = SyslogReception(
        receivedAt: SyslogTimestamp(
            year: 2026, month: 11, day: 26, hour: 8, minute: 53, second: 0, fraction: 197_040, fractionDigits: 6),
        fromHost: "localhost")

    func parse(_ s: String, options: SyslogParseOptions = SyslogParseOptions()) -> SyslogMessage {
        SyslogParser.parse(Array(s.utf8), reception: reception, options: options)
    }

    func parse(bytes: [UInt8], options: SyslogParseOptions = SyslogParseOptions()) -> SyslogMessage {
        SyslogParser.parse(bytes, reception: reception, options: options)
    }

    struct FileCase: CustomTestStringConvertible, Sendable {
        let input: String
        let template: SyslogTemplate
        let output: String
        var testDescription: String { input }
    }

    static let fileCases: [FileCase] = [
        // The datagram HAProxy sends (no hostname): rsyslog fills in fromhost.
        FileCase(
            input:
                "<134>Nov 26 08:51:08 haproxy[6553]: 127.0.0.1:5 [26/Nov/2026:08:51:08.248] fe be/s 0/0/1 5 -- 1/1/0/0/0 0/0",
            template: .traditionalFileFormat,
            output:
                "Nov 26 08:51:08 localhost haproxy[6553]: 127.0.0.1:5 [26/Nov/2026:08:51:08.248] fe be/s 0/0/1 5 -- 1/1/0/0/0 0/0\n"
        ),
        FileCase(
            input: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            template: .traditionalFileFormat,
            output: "Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n"),
        FileCase(
            input: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            template: .fileFormat,
            output: "2026-10-11T22:14:15+00:00 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n"),
        FileCase(
            input: "<13>Aug  2 11:31:11 host4 tag:nospace", template: .traditionalFileFormat,
            output: "Aug  2 11:31:11 host4 tag: nospace\n"),
        FileCase(
            input: "<13>Jan  1 00:00:00 host1 app: a\tb\u{01}c\u{1B}d", template: .traditionalFileFormat,
            output: "Jan  1 00:00:00 host1 app: a#011b#001c#033d\n"),
        // No timestamp and no host: reception time and fromhost.
        FileCase(
            input: "<190>haproxy[123]: 10.0.0.1:1234 x", template: .traditionalFileFormat,
            output: "Nov 26 08:53:00 localhost haproxy[123]: 10.0.0.1:1234 x\n"),
        FileCase(
            input: "<190>haproxy[123]: 10.0.0.1:1234 x", template: .fileFormat,
            output: "2026-11-26T08:53:00.197040+00:00 localhost haproxy[123]: 10.0.0.1:1234 x\n"),
        // RFC 5424 input: the tag is made up, the MSG has no leading space.
        FileCase(
            input:
                "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
            template: .traditionalFileFormat,
            output: "Aug 24 05:14:15 192.0.2.1 myproc[8710] %% It's time to make the do-nuts.\n"),
        FileCase(
            input:
                "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
            template: .fileFormat,
            output: "2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc[8710] %% It's time to make the do-nuts.\n"),
        // Invalid PRI: invld.debug, whole line is MSG, empty TAG (hence two spaces).
        FileCase(
            input: "<999>bad pri value", template: .traditionalFileFormat,
            output: "Nov 26 08:53:00 localhost  <999>bad pri value\n"),
        // A CR from a CRLF sender survives.
        FileCase(
            input: "<13>Aug  2 11:31:11 h app: crlf\r\n", template: .traditionalFileFormat,
            output: "Aug  2 11:31:11 h app: crlf#015\n"),
        FileCase(
            input: "<134>Aug 22 11:31:11 h1 app[5]: rs local0 msg", template: .syslogProtocol23Format,
            output: "<134>1 2026-08-22T11:31:11+00:00 h1 app 5 - -  rs local0 msg\n"),
        FileCase(
            input: "<150>Aug 22 11:31:11 h1 app[9]: fwd local2", template: .forwardFormat,
            output: "<150>2026-08-22T11:31:11+00:00 h1 app[9]: fwd local2"),
        FileCase(
            input: "<142>Aug 22 11:31:11 h1 averyveryveryveryverylongtagname_beyond32: fwd local1",
            template: .traditionalForwardFormat,
            output: "<142>Aug 22 11:31:11 h1 averyveryveryveryverylongtagname fwd local1"),
        // Headerless JSON: everything after PRI is MSG.
        FileCase(
            input: "<14>   {\"json\":1}", template: .traditionalFileFormat,
            output: "Nov 26 08:53:00 localhost    {\"json\":1}\n"),
    ]

    @Test("renders what rsyslog writes", arguments: fileCases)
    func fileLines(_ c: FileCase) {
        let m = parse(c.input)
        #expect(c.template.renderString(m) == c.output)
    }

    @Test func priorities() {
        #expect(parse("no pri here at all").priority == .missing)
        #expect(parse("no pri here at all").hostnameString == "no")
        #expect(parse("no pri here at all").syslogTagString == "pri")
        #expect(parse("<013>x").priority == Priority(value: 13))
        for bad in ["<999>x", "<abc>x", "<1234>x", "<>x", "<192>x"] {
            let m = parse(bad)
            #expect(m.priority == .invalid, "\(bad)")
            #expect(m.priority.value == 199)
            #expect(m.msgString == bad)
            #expect(m.syslogTagString == "")
        }
        #expect(parse("<191>x").priority == Priority(facility: .local7, severity: .debug))
        #expect(parse("<0>x").priority == Priority(facility: .kern, severity: .emergency))
    }

    @Test func hostnameGuess() {
        var m = parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!")
        #expect(m.hostnameString == "10.0.0.99")
        #expect(m.syslogTagString == "Use")
        #expect(m.msgString == " the BFG!")
        m = parse("<13>myapp[42]: x")
        #expect(m.hostnameField == nil)
        #expect(m.hostnameString == "localhost")
        #expect(m.syslogTagString == "myapp[42]:")
        #expect(m.programNameString == "myapp")
        m = parse("<13>hello world two words")
        #expect(m.hostnameString == "hello")
        #expect(m.syslogTagString == "world")
        #expect(m.msgString == " two words")
        m = parse("<13>Feb  5 17:32:18 host- tag: x")
        #expect(m.hostnameField == nil, "a hostname must end with a letter or digit")
        var local = SyslogParseOptions()
        local.parseHostname = false
        m = parse("<13>Feb  5 17:32:18 host tag: x", options: local)
        #expect(m.hostnameString == "localhost")
        #expect(m.syslogTagString == "host")
    }

    @Test func timestamps() {
        // Fractions are kept with their precision; the year and zone of BSD stamps come from reception.
        var m = parse("<13>Aug 22 11:31:11.123456 h t: x")
        #expect(m.timestamp.rfc3339 == "2026-08-22T11:31:11.123456+00:00")
        m = parse("<13>2024 Aug 22 11:31:11 h t: x")
        #expect(m.timestamp.rfc3339 == "2024-08-22T11:31:11+00:00")
        m = parse("<13>Aug 22 2024 11:31:11 h t: x")
        #expect(m.timestamp.rfc3339 == "2024-08-22T11:31:11+00:00")
        m = parse("<13>2026-08-22T11:31:11.123+02:00 h t: x")
        #expect(m.timestamp.rfc3339 == "2026-08-22T11:31:11.123+02:00")
        #expect(m.timestamp.rfc3164 == "Aug 22 11:31:11")
        m = parse("<13>2026-08-22T11:31:11Z h t: x")
        #expect(m.timestamp.rfc3339 == "2026-08-22T11:31:11Z")
        m = parse("<13>Aug 32 11:31:11 h t: x")
        #expect(m.timestamp == reception.receivedAt, "day 32 is no timestamp")
        #expect(m.hostnameString == "Aug")
        m = parse("<13>Aug  2 24:00:00 h t: x")
        #expect(m.timestamp == reception.receivedAt)
        m = parse("<13>Aug  2 1:2:3 h t: x")
        #expect(m.timestamp.rfc3164 == "Aug  2 01:02:03")
    }

    @Test func sanitising() {
        var m = parse(bytes: Array("<13>h t: a\u{0}b".utf8))
        #expect(m.msgString == " a#000b")
        var off = SyslogParseOptions()
        off.escapeControlCharacters = false
        m = parse(bytes: Array("<13>h t: a\tb\u{0}c".utf8), options: off)
        #expect(m.msgString == " a\tb#000c", "NUL is escaped even with escaping off")
        m = parse(bytes: Array("<13>h t: x\n".utf8))
        #expect(m.msgString == " x")
        m = parse(bytes: Array("<13>h t: x\n\u{0}".utf8))
        #expect(m.msgString == " x", "a trailing NUL, then a trailing LF, are dropped")
        m = parse(bytes: Array("<13>h t: x\n\n".utf8))
        #expect(m.msgString == " x#012", "only one LF is dropped")
        var tabs = SyslogParseOptions()
        tabs.escapeTab = false
        m = parse(bytes: Array("<13>h t: a\tb\u{1}".utf8), options: tabs)
        #expect(m.msgString == " a\tb#001")
    }

    @Test func datagramSizeLimit() {
        let long = "<13>Aug  2 11:31:11 h t: " + String(repeating: "x", count: 9000)
        let (m, truncated) = SyslogParser.parseDatagram(Array(long.utf8), reception: reception)
        #expect(truncated)
        #expect(m.raw.count == 8096, "rsyslog's effective default is 8096 bytes, not 8192")
        var small = SyslogParseOptions()
        small.maxMessageSize = 128
        let (cut, wasCut) = SyslogParser.parseDatagram(Array(long.utf8), reception: reception, options: small)
        #expect(wasCut)
        #expect(cut.raw.count == 128)
        let (whole, notCut) = SyslogParser.parseDatagram(Array("<13>h t: short".utf8), reception: reception)
        #expect(!notCut)
        #expect(whole.msgString == " short")
    }

    @Test func rfc5424() {
        var m = parse(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\"] \u{FEFF}An application event"
        )
        #expect(m.protocolVersion == 1)
        #expect(text(m.structuredData) == "[exampleSDID@32473 iut=\"3\"]")
        #expect(text(m.msgID) == "ID47")
        #expect(text(m.procID) == "-")
        #expect(m.syslogTagString == "evntslog")
        #expect(Array(m.msg.prefix(3)) == [0xEF, 0xBB, 0xBF], "the BOM is kept")
        m = parse("<165>1 2003-10-11T22:14:15.003Z host app - - [a x=\"\\]\"][b] msg")
        #expect(text(m.structuredData) == "[a x=\"\\]\"][b]")
        #expect(m.msgString == "msg")
        m = parse("<165>1 - host app 77 - - msg")
        #expect(m.timestamp == reception.receivedAt)
        #expect(m.syslogTagString == "app[77]")
        m = parse("<165>1 bogus host app 77 - - msg")
        #expect(m.hostnameField == nil, "a bad timestamp stops the 5424 header")
        #expect(m.msgString == "bogus host app 77 - - msg")
        // Legacy messages expose the 5424 properties rsyslog derives.
        m = parse("<13>Aug  2 11:31:11 h sshd[123]: x")
        #expect(text(m.appName) == "sshd")
        #expect(text(m.procID) == "123")
        #expect(text(m.msgID) == "-")
    }

    @Test func tagLimits() {
        let long = String(repeating: "t", count: 600)
        let m = parse("<13>Aug  2 11:31:11 h \(long): x")
        #expect(m.syslogTag.count == 510, "rsyslog keeps at most 510 tag bytes")
        let tag56 = String(repeating: "a", count: 55) + ":"
        #expect(parse("<13>h \(tag56) x").syslogTagString == tag56, "no 32-byte limit on input")
        #expect(parse("<13>h sshd(pam_unix)[12750]: x").programNameString == "sshd(pam_unix)")
        #expect(parse("<13>h a/b: x").programNameString == "a")
    }

    @Test func facilityAndSeverityNames() {
        #expect(Facility(selectorName: "LOCAL0") == .local0)
        #expect(Facility(selectorName: "security") == .auth)
        #expect(Facility(selectorName: "console")?.rawValue == 14)
        #expect(Facility(selectorName: "audit") == nil)
        #expect(Facility(selectorName: "16") == nil)
        #expect(Facility(selectorName: "local8") == nil)
        #expect(Facility(haproxyName: "auth2")?.rawValue == 10)
        #expect(Facility(haproxyName: "cron2")?.rawValue == 15)
        #expect(Facility.local0.rsyslogName == "local0")
        #expect(Facility.invalid.rsyslogName == "invld")
        #expect(Severity(name: "panic") == .emergency)
        #expect(Severity(name: "error") == .error)
        #expect(Severity(name: "warn") == .warning)
        #expect(Severity(name: "nope") == nil)
        #expect(Priority(facility: .local0, severity: .informational).value == 134)
        #expect(Priority(facility: .local0, severity: .informational).text == "local0.info")
        #expect(Priority(value: 192) == nil)
        #expect(SyslogTemplate(name: "rsyslog_traditionalfileformat") == .traditionalFileFormat)
        #expect(SyslogTemplate(name: "nope") == nil)
    }
}
