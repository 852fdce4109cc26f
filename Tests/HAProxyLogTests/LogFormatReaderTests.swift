import LogCore
import PropertyBased
import Testing

@testable import HAProxyLog

/// Lines written with a custom `log-format`, read back into the fields of a traffic line (`logquery --log-format`,
/// `--config`). The writer is `CustomLogFormat.format`, the one the proxy logs with and that
/// `LogFormatInteropTests` checks byte for byte beside HAProxy 2.6.
@Suite("log-format: lines read back")
struct LogFormatReaderTests {
    typealias G = HAProxyRoundTripPropertyTests

    static func reader(_ text: String) -> LogFormatReader? { try? LogFormatReader(text: text) }

    /// The line parsed with `formats` tried first: its status and its record.
    static func read(_ line: String, _ formats: [LogFormatReader?]) -> (HAProxyLogParseStatus, HAProxyLogRecord?) {
        var copy = line
        return copy.withUTF8 { buffer in
            var out = HAProxyLogLine()
            let status = HAProxyLogParser.parse(buffer, into: &out, formats: formats.compactMap { $0 })
            return (status, out.record(in: buffer))
        }
    }

    static func line(_ text: String, _ r: HAProxyLogRecord, _ c: HAProxyLogContext? = nil) -> String {
        let format = try? CustomLogFormat.parse(text, http: r.mode == .http)
        return "<134>Dec  7 10:47:17 lb1 haproxy[12275]: "
            + String(decoding: format?.format(r, c ?? HAProxyLogContext(acceptDate: r.date)) ?? [], as: UTF8.self)
    }

    /// The built-in formats written as log-format strings read back through the format reader give what the
    /// built-in parser gives for the same lines: every field of every generated record.
    @Test func theBuiltInFormatsReadAsTheBuiltInParserReadsThem() async {
        let http = Self.reader(CustomLogFormat.httplogText)
        let tcp = Self.reader(CustomLogFormat.tcplogText)
        #expect(http != nil && tcp != nil)
        let cookie = Gen.letterOrNumber.string(of: 0...12)
        await propertyCheck(
            count: 400,
            input: G.common, G.timers, G.counters, G.termination, zip(Gen.bool, Gen.bool),
            zip(Gen.int(in: -1...599), Gen.int64(in: 0...Int64.max / 2), G.anyText, cookie, cookie),
            zip(G.anyText.array(of: 0...3).optional, G.anyText.array(of: 1...3).optional)
        ) { common, timers, counters, termination, flags, h, captures in
            // One capture block reads back as the request's: generate what a line can tell apart.
            let requestCaptures = captures.0.map { $0.isEmpty ? [""] : $0 }
            let r = CustomLogFormatTests.httpRecord(
                common, timers, counters, termination, flags, h, (requestCaptures, requestCaptures == nil ? nil : captures.1))
            let line = Self.line(CustomLogFormat.httplogText, r)
            let builtIn = Self.read(line, [])
            let custom = Self.read(line, [http])
            #expect(custom.0 == .traffic && custom.1 == builtIn.1, "\(line)")

            let t = G.record(.tcp, common, timers, counters, termination, flags, h.1)
            let tcpLine = Self.line(CustomLogFormat.tcplogText, t)
            let tcpRead = Self.read(tcpLine, [tcp])
            #expect(tcpRead.0 == .traffic && tcpRead.1 == Self.read(tcpLine, []).1, "\(tcpLine)")
        }
    }

    /// Formats from the real-world collection (Tests/Corpus/haproxy 07 and 16) and the JSON shape people log for
    /// their collectors: each field the format writes comes back.
    @Test func realWorldFormatsGiveBackTheirFields() throws {
        let (r, c) = CustomLogFormatTests.request
        var denied = r
        denied.server = "<NOSRV>"
        denied.status = 403
        denied.queueTime = -1
        denied.connectTime = -1
        denied.responseTime = -1
        denied.terminationState = TerminationState(cause: 0x50, phase: 0x52, clientCookie: 0x2D, serverCookie: 0x2D)
        denied.requestLine = "POST /login HTTP/1.1"
        for record in [r, denied] {
            // 07: httplog without the cookies.
            let short = Self.line(
                "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r", record, c)
            let (s1, r1) = Self.read(short, [Self.reader("%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r")])
            #expect(s1 == .traffic, "\(short)")
            #expect(r1?.server == record.server && r1?.status == record.status && r1?.requestLine == record.requestLine)
            #expect(r1?.clientPort == record.clientPort && r1?.date == record.date && r1?.terminationState == record.terminationState)
            #expect(r1?.requestHeaders == record.requestHeaders && r1?.connectTime == record.connectTime, "\(short)")

            // 16: the local date with its zone, the request's parts, the backend/server last.
            let trl = "%ci [%trl] %HM %HU %HV %ST %B %hr %b/%s %TR/%Tw/%Tc/%Tr/%Ta"
            let (s2, r2) = Self.read(Self.line(trl, record, c), [Self.reader(trl)])
            #expect(s2 == .traffic)
            #expect(r2?.backend == "be" && r2?.server == record.server && r2?.status == record.status)
            #expect(r2?.date.second == record.date.second && r2?.date.minute == record.date.minute)
            #expect(r2?.totalTime == record.totalTime && r2?.requestTime == record.requestTime)

            // JSON: values inside quotes, numbers bare.
            let json =
                #"{"time":"%t","client":"%ci","frontend":"%f","backend":"%b","server":"%s","status":%ST,"bytes":%B,"method":"%HM","uri":"%HU","timers":"%TR/%Tw/%Tc/%Tr/%Ta","state":"%tsc"}"#
            let jsonLine = Self.line(json, record, c)
            let (s3, r3) = Self.read(jsonLine, [Self.reader(json)])
            #expect(s3 == .traffic, "\(jsonLine)")
            #expect(r3?.frontend == "fe" && r3?.server == record.server && r3?.bytesRead == record.bytesRead)
            #expect(r3?.terminationState == record.terminationState && r3?.responseTime == record.responseTime)
        }
    }

    /// Fields a format does not write are absent, not zero; a line in none of the formats is read as before.
    @Test func absentFieldsAndOtherLines() throws {
        let reader = try #require(Self.reader("%ci [%tr] %b/%s %ST"))
        let (r, _) = CustomLogFormatTests.request
        var line = Self.line("%ci [%tr] %b/%s %ST", r)
        line.withUTF8 { buffer in
            var out = HAProxyLogLine()
            #expect(HAProxyLogParser.parse(buffer, into: &out, formats: [reader]) == .traffic)
            #expect(out.kind == .http)
            #expect(out.absent == [.clientPort, .terminationState, .bytesRead, .connectionCounts, .retries, .queues])
            #expect(out.text(out.backend, in: buffer) == "be" && out.status == 200)
        }
        // The same scanner reads a built-in line, a server message and another program's line as before.
        let httplog = HAProxyLogFormat.httplog.formatString(r)
        var out = HAProxyLogLine()
        var copy = httplog
        copy.withUTF8 { buffer in
            #expect(HAProxyLogParser.parse(buffer, into: &out, formats: [reader]) == .traffic)
            #expect(out.absent == [] && out.clientPort == r.clientPort)
        }
        var event = "Server web/w1 is DOWN, reason: Layer4 connection problem"
        event.withUTF8 { #expect(HAProxyLogParser.parse($0, into: &out, formats: [reader]) == .event) }
        var other = "kernel: eth0 link up"
        other.withUTF8 { #expect(HAProxyLogParser.parse($0, into: &out, formats: [reader]) == .other) }
        // A field from the previous line never leaks into one whose format lacks it.
        #expect(out.frontend.isEmpty)
    }

    @Test func arbitraryBytesNeverTrap() async {
        let readers = [
            Self.reader(CustomLogFormat.httplogText), Self.reader("%ci [%trg] %{+Q}r %hr"), Self.reader("%[src] %ST"),
            Self.reader(#"{"t":"%Ts.%ms","c":"%{+Q,+E}HU"}"#),
        ].compactMap { $0 }
        await propertyCheck(count: 3000, input: Gen.uint8(in: 0...255).array(of: 0...300)) { bytes in
            bytes.withUnsafeBufferPointer { buffer in
                var out = HAProxyLogLine()
                _ = HAProxyLogParser.parse(buffer, into: &out, formats: readers)
            }
        }
    }
}
