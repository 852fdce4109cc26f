import Foundation
import LogCore
import Testing

@testable import SyslogProtocol

/// One rsyslog golden vector: input bytes, the template rsyslog's test rendered, the options it set, the output.
struct GoldenVector: CustomTestStringConvertible, Sendable {
    enum Template: Sendable {
        /// `%PRI%,%syslogfacility-text%,%syslogseverity-text%,%timestamp%,%hostname%,%programname%,%syslogtag%,%msg%`
        case standard
        /// the same without `%timestamp%`
        case noTimestamp
        /// the same without `%hostname%`
        case noHostname
        /// `%timestamp:::date-rfc3164-buggyday%` in place of `%timestamp%`
        case buggyDay
        /// `"%timereported:1:19:date-rfc3339%", "%hostname%", "%programname%", "<regex>", "%syslogseverity%", "%msg%"`
        case csvRFC3339
        /// the snare SQL template: msg and tag with `space-cc`, facility and severity as numbers
        case sqlSpaceCC
    }

    enum Options: Sendable {
        case defaults, escape8Bit, noControlEscape

        var parseOptions: SyslogParseOptions {
            var o = SyslogParseOptions()
            switch self {
            case .defaults: break
            case .escape8Bit: o.escape8BitCharacters = true
            case .noControlEscape: o.escapeControlCharacters = false
            }
            return o
        }
    }

    let input: [UInt8]
    let template: Template
    let options: Options
    let expected: String
    let source: String

    init(_ input: String, _ template: Template, _ options: Options, _ expected: String, _ source: String) {
        self.input = Array(input.utf8)
        self.template = template
        self.options = options
        self.expected = expected
        self.source = source
    }

    var testDescription: String { source }
}

/// The reception context every golden vector is parsed with: rsyslog's tests send from 127.0.0.1 (= localhost).
let goldenReception = SyslogReception(
    receivedAt: SyslogTimestamp(
        year: 2026, month: 11, day: 26, hour: 8, minute: 53, second: 0, fraction: 197_040, fractionDigits: 6),
    fromHost: "localhost")

func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

/// Renders the properties the way the vector's rsyslog template did.
func render(_ m: SyslogMessage, _ vector: GoldenVector) -> String {
    var ts: [UInt8] = []
    let head = "\(m.priority.value),\(m.priority.facility.rsyslogName),\(m.priority.severity.name)"
    let tail = "\(text(m.programName)),\(text(m.syslogTag)),\(text(m.msg))"
    switch vector.template {
    case .standard:
        m.timestamp.appendRFC3164(to: &ts)
        return "\(head),\(String(decoding: ts, as: UTF8.self)),\(text(m.hostname)),\(tail)"
    case .buggyDay:
        m.timestamp.appendRFC3164BuggyDay(to: &ts)
        return "\(head),\(String(decoding: ts, as: UTF8.self)),\(text(m.hostname)),\(tail)"
    case .noTimestamp:
        return "\(head),\(text(m.hostname)),\(tail)"
    case .noHostname:
        m.timestamp.appendRFC3164(to: &ts)
        return "\(head),\(String(decoding: ts, as: UTF8.self)),\(tail)"
    case .csvRFC3339:
        m.timestamp.appendRFC3339(to: &ts)
        let regexColumn: String
        if vector.source.contains("invld_regex") {
            regexColumn = "<regex>"
        } else {
            regexColumn = String(text(m.syslogTag).filter(\.isNumber))
        }
        let fields = [
            String(decoding: ts.prefix(19), as: UTF8.self), text(m.hostname), text(m.programName), regexColumn,
            "\(m.priority.severity.rawValue)", text(m.msg),
        ]
        return fields.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ", ")
    case .sqlSpaceCC:
        func spaceCC(_ s: ArraySlice<UInt8>) -> String {
            String(decoding: s.map { $0 < 0x20 ? 0x20 : $0 }, as: UTF8.self)
        }
        return "insert into windows (Message, Facility,FromHost, Priority, DeviceReportedTime, ReceivedAt, "
            + "InfoUnitID, SysLogTag) values (\(spaceCC(m.msg)), \(m.priority.facility.rawValue), "
            + "\(text(m.hostname)),\(m.priority.severity.rawValue), 20100321185328, 20100321185328, 1, "
            + "\(spaceCC(m.syslogTag)))"
    }
}

@Suite("rsyslog golden parse vectors")
struct GoldenVectorTests {
    @Test("parses as rsyslog 8 does", arguments: rsyslogGoldenVectors)
    func golden(_ vector: GoldenVector) {
        let message = SyslogParser.parse(vector.input, reception: goldenReception, options: vector.options.parseOptions)
        #expect(render(message, vector) == vector.expected)
    }

    @Test func everyVectorIsPresent() {
        // 36 deterministic vectors plus 6 whose hostname is the sender's resolved name.
        #expect(rsyslogGoldenVectors.count == 42)
    }
}
