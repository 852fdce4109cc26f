import LogCore
import Testing

@testable import SyslogProtocol

/// The property replacer on its own: the corner cases (the interop suite compares whole files with rsyslogd's).
@Suite("Property-replacer templates")
struct PropertyTemplateTests {
    let reception = SyslogReception(
        receivedAt: SyslogTimestamp(
            year: 2026, month: 11, day: 26, hour: 8, minute: 53, second: 0, fraction: 197_040, fractionDigits: 6),
        fromHost: Array("gw".utf8), fromHostIP: Array("192.0.2.7".utf8))

    func render(_ template: String, _ message: String, escapes: PropertyTemplate.Escapes = .none) throws -> String {
        let m = SyslogParser.parse(Array(message.utf8), reception: reception)
        return String(decoding: try PropertyTemplate(parsing: template, escapes: escapes).render(m), as: UTF8.self)
    }

    @Test func propertiesRangesFieldsAndOptions() throws {
        let m = "<134>Nov  2 08:51:08 lb1 haproxy[6553]: 10.0.0.1:5678 [x] Fe/S"
        #expect(
            try render("%syslogtag:1:3%|%msg:2:5%|%msg:F,58:2%|%msg:F,58:3%|%msg:F,32:2%", m)
                == "hap|10.0|5678 [x] Fe/S|**FIELD NOT FOUND**|10.0.0.1:5678")
        #expect(
            try render("%pri%,%pri-text%,%syslogfacility%,%syslogseverity-text%,%syslogpriority%", m)
                == "134,local0.info,16,info,6")
        #expect(
            try render("%fromhost%,%fromhost-ip%,%source%,%app-name%,%procid%,%msgid%,%protocol-version%", m)
                == "gw,192.0.2.7,lb1,haproxy,6553,-,0")
        #expect(
            try render("%timestamp%|%timereported:::date-rfc3164-buggyday%|%timestamp:::date-mysql%", m)
                == "Nov  2 08:51:08|Nov 02 08:51:08|20261102085108")
        #expect(
            try render("%timegenerated:::date-rfc3339%|%$year%-%$month%-%$day% %$now%", m)
                == "2026-11-26T08:53:00.197040+00:00|2026-11-26 2026-11-26")
        #expect(
            try render("%msg:::uppercase%|%programname:::secpath-replace%", "<13>Nov 26 08:51:08 h a/b: x/y")
                == " X/Y|a")
        #expect(
            try render("[%msg:::sp-if-no-1st-sp%][%syslogtag:::sp-if-no-1st-sp%]", "<13>Nov 26 08:51:08 h t:x")
                == "[ ][ ]")
        #expect(try render("[%msg:::sp-if-no-1st-sp%]", "<14>Aug 30 23:00:05 X4711 TAGONLY") == "[]")
        #expect(
            try render("%syslogtag:::secpath-drop%|%syslogtag:::secpath-replace%", "<13>Nov 26 08:51:08 h ..")
                == "_.|_.")
    }

    @Test func legacyEscapesAndRainerScriptText() throws {
        #expect(
            try render(#"a\tb\\c\%d\"e\101\n"#, "<13>x", escapes: .legacy) == "atb\\c%d\"ee\n",
            "\\101 is decimal: e, as rsyslogd writes it")
        #expect(try render(#"a\tb"#, "<13>x", escapes: .none) == #"a\tb"#, "already unescaped by the config reader")
    }

    @Test(arguments: [
        ("%msg:R,ERE,1,FIELD:([0-9]+)%", "--end"),
        ("%nosuchproperty%", "unknown"),
        ("%$/global%", "global variables"),
        ("%msg:::compressspace%", "option 'compressspace'"),
        ("%msg", "closing '%'"),
        ("%msg:x:2%", "character range"),
        ("%msg:F,x:2%", "decimal character code"),
    ])
    func refused(template: String, reason: String) {
        #expect {
            _ = try PropertyTemplate(parsing: template, escapes: .none)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func aFieldNameFollowsTheOptionsAndUnknownOptionsAreIgnoredAsRsyslogDoes() throws {
        let t = try PropertyTemplate(parsing: "{%msg:::jsonf:text%,%hostname:::jsonf%,%msg:::no-such,uppercase%}", escapes: .none)
        #expect(t.ignoredOptions == ["no-such"])
    }
}
