import Foundation
import LogCore
import PropertyBased
import SyslogProtocol
import TestSupport
import Testing

@testable import SyslogSink

/// What comes from outside never crashes the sink: configuration text (the real-world corpus, damaged at random),
/// templates, JSON after an `@cee:` cookie, kernel log lines and followed files' bytes. A crash ends the test
/// process; a refusal (a thrown diagnostic) is fine.
@Suite("Malformed input never crashes the sink")
struct RobustnessPropertyTests {
    /// The bytes a damaged configuration or message is made of: the syntax's own punctuation, mostly.
    static let noise = Gen.element(of: Array("(){}[]\"'\\$#&;:=,%!.*-/\n\t `<>R0123456789abcdefghijklmnopqrstuvwxyz@"))
        .map { $0 ?? " " }

    static let corpus: [String] = {
        let folder = Products.packageRoot + "/Tests/Corpus/rsyslog"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".conf") }.sorted().compactMap {
            try? String(contentsOfFile: "\(folder)/\($0)", encoding: .utf8)
                .replacingOccurrences(of: "@CORPUS@", with: folder)
        }
    }()

    @Test func damagedRealWorldConfigurationsAreRefusedOrRead() async {
        #expect(Self.corpus.count >= 90)
        await propertyCheck(
            count: 400,
            input: Gen.int(in: 0...10_000), Gen.int(in: 0...100_000), Gen.int(in: 0...40), Self.noise.string(of: 0...12)
        ) { which, at, cut, insert in
            var text = Array(Self.corpus[which % Self.corpus.count])
            guard !text.isEmpty else { return }
            let start = at % text.count
            let end = min(text.count, start + cut)
            text.replaceSubrange(start..<end, with: Array(insert))
            // Returns a configuration or throws a ConfigDiagnostic: anything else would end the process.
            _ = try? RsyslogConfigParser.parse(text: String(text), name: "damaged.conf")
        }
    }

    @Test func templatesOfAnyShapeAreRefusedOrRendered() async {
        let parts = Gen.element(of: [
            "%msg%", "%msg:", ":R,ERE,1,DFLT:", "--end", "%$!a!b%", "%$.x:::json%", ":::jsonf%", "%jsonmesg%",
            "%msg:2:$%", "%msg:F,58:2%", "%timereported:::date-rfc3339%", "R", ",", ":", "%", "(", "[0-9]+", "\\",
            "%$!%", "%inputname%", "x", " ",
        ]).map { $0 ?? "" }
        let message = SyslogParser.parse(
            Array("<13>Nov 26 08:00:00 h app: a message with 123 and : and %".utf8),
            reception: SyslogReception(fromHost: "h"))
        await propertyCheck(count: 400, input: parts.array(of: 0...12)) { pieces in
            let text = pieces.joined()
            if let template = try? PropertyTemplate(parsing: text, escapes: .legacy) {
                _ = template.render(message)
            }
        }
    }

    @Test func anyBytesAfterACookieAreParsedOrRefused() async {
        let json = Gen.element(of: Array("{}[]\":,0123456789.-+eEtrufalsn \\u\"abc/".utf8)).map { $0 ?? 0x20 }
            .array(of: 0...60)
        await propertyCheck(count: 500, input: json) { bytes in
            _ = JSONReader.parse(bytes)
            var m = SyslogParser.parse(
                Array("<13>Nov 26 08:00:00 h app: @cee: ".utf8) + bytes, reception: SyslogReception(fromHost: "h"))
            Ruleset.parseJSON(&m, cookie: Array("@cee:".utf8), container: "!", useRawMessage: false)
            #expect(m.parseSuccess != nil)
        }
        // Deep nesting is refused, not recursed into for ever.
        #expect(JSONReader.parse(Array(String(repeating: "[", count: 100_000).utf8)) == nil)
    }

    @Test func kernelLinesAndFileBytesOfAnyShape() async {
        let bytes = Gen.element(of: Array("<>[]. 0123456789\n\tabc".utf8)).map { $0 ?? 0x20 }.array(of: 0...40)
        let now = CivilTime.now()
        await propertyCheck(count: 500, input: bytes, Gen.int(in: 0...2), Gen.bool) { line, mode, regex in
            var settings = KernelLogSettings()
            settings.parseKernelTimestamp = true
            settings.permitNonKernelFacility = true
            _ = KernelLogLine(settings: settings, host: Array("h".utf8))
                .message(line[...], now: now, bootEpochMicroseconds: 0)
            var file = FileInputSettings()
            file.readMode = regex ? 0 : mode
            if regex { file.startRegex = "^[0-9]" }
            var assembler = FileMessageAssembler(settings: file)
            for chunk in stride(from: 0, to: line.count, by: 7) {
                for (text, _) in assembler.feed(line[chunk..<min(chunk + 7, line.count)]) {
                    _ = FileMessageAssembler.pieces(text, settings: file, maxSize: 16)
                }
            }
            _ = assembler.flushPending()
        }
    }
}
