import LogCore
import PropertyBased
import Testing

@testable import HAProxyLog

/// `log-format` strings as HAProxy 2.6 reads and renders them. The expected lines are what HAProxy 2.6.12 wrote
/// for the same formats (run beside it: see `LogFormatInteropTests` for the live comparison).
@Suite("log-format: HAProxy's custom formats")
struct CustomLogFormatTests {
    typealias G = HAProxyRoundTripPropertyTests

    static func parse(_ text: String, http: Bool = true) -> CustomLogFormat? {
        try? CustomLogFormat.parse(text, http: http)
    }

    static func line(_ format: CustomLogFormat?, _ r: HAProxyLogRecord, _ c: HAProxyLogContext) -> String {
        String(decoding: format?.format(r, c) ?? [], as: UTF8.self)
    }

    /// A request as HAProxy logged it in the run the examples come from.
    static var request: (HAProxyLogRecord, HAProxyLogContext) {
        let date = CivilTime(year: 2026, month: 12, day: 7, hour: 5, minute: 6, second: 38, microsecond: 710_000)
        let r = HAProxyLogRecord(
            mode: .http, clientIP: "127.0.0.1", clientPort: 56860, date: date, frontend: "fe", backend: "be",
            server: "s1", requestTime: 0, queueTime: 0, connectTime: 0, responseTime: 0, totalTime: 0, status: 200,
            bytesRead: 120, terminationState: TerminationState(.normal, .normal), activeConnections: 1,
            frontendConnections: 1, backendConnections: 0, serverConnections: 0, retries: 0,
            serverQueue: 0, backendQueue: 0, requestHeaders: ["ex\"ample.com", ""], responseHeaders: [""],
            requestLine: "GET /x/y?q=1 HTTP/1.1")
        var c = HAProxyLogContext(acceptDate: date)
        c.frontendIP = "127.0.0.1"
        c.frontendPort = 18080
        c.serverIP = "127.0.0.1"
        c.serverPort = 18081
        c.backendSourceIP = "127.0.0.1"
        c.backendSourcePort = 53052
        c.bytesUploaded = 79
        c.hostname = "vm"
        c.pid = 30400
        return (r, c)
    }

    /// An HTTP record from generated values: status, bytes, request line, cookies and captures after the common
    /// fields.
    static func httpRecord(
        _ common: (String, Int, CivilTime, String, Bool, String, String), _ timers: [Int], _ counters: [Int],
        _ termination: TerminationState, _ flags: (Bool, Bool), _ h: (Int, Int64, String, String, String),
        _ captures: ([String]?, [String]?)
    ) -> HAProxyLogRecord {
        var r = G.record(.http, common, timers, counters, termination, flags, h.1)
        r.status = h.0
        r.requestLine = h.2
        r.requestCookie = h.3
        r.responseCookie = h.4
        r.requestHeaders = captures.0
        r.responseHeaders = captures.1
        return r
    }

    @Test func theBuiltInFormatsWrittenAsStringsRenderAsTheBuiltInRenderers() async {
        let http = Self.parse(CustomLogFormat.httplogText)
        let tcp = Self.parse(CustomLogFormat.tcplogText, http: false)
        let clf = Self.parse(CustomLogFormat.clfText)
        #expect(http != nil && tcp != nil && clf != nil)
        // Cookies and names as HAProxy captures them (no quote, `#` or control character: those it copies raw
        // in %CC, where the built-in renderer escapes).
        let cookie = Gen.letterOrNumber.string(of: 0...12)
        await propertyCheck(
            count: 400,
            input: G.common, G.timers, G.counters, G.termination, zip(Gen.bool, Gen.bool),
            zip(Gen.int(in: -1...599), Gen.int64(in: 0...Int64.max / 2), G.anyText, cookie, cookie),
            zip(G.anyText.array(of: 0...3).optional, G.anyText.array(of: 1...3).optional)
        ) { common, timers, counters, termination, flags, h, captures in
            let r = Self.httpRecord(common, timers, counters, termination, flags, h, captures)
            let c = HAProxyLogContext(acceptDate: r.date)
            #expect(http?.format(r, c) == HAProxyLogFormat.httplog.format(r), "\(HAProxyLogFormat.httplog.formatString(r))")
            var list = r
            list.requestHeaders = (r.requestHeaders ?? []).isEmpty ? nil : r.requestHeaders
            list.responseHeaders = (r.responseHeaders ?? []).isEmpty ? nil : r.responseHeaders
            #expect(clf?.format(list, c) == HAProxyLogFormat.clf.format(list), "\(HAProxyLogFormat.clf.formatString(list))")

            let t = G.record(.tcp, common, timers, counters, termination, flags, h.1)
            #expect(tcp?.format(t, c) == HAProxyLogFormat.tcplog.format(t), "\(HAProxyLogFormat.tcplog.formatString(t))")
        }
    }

    @Test func flagsQuotesAndEmptyItemsAsHAProxyWritesThem() {
        var (r, c) = Self.request
        c.samples = ["127.0.0.1", nil, nil, nil, nil]
        let format = Self.parse(
            "N %{+Q}[src] O %{+Q}b P %{-M}[capture.res.hdr(0)]|%[capture.res.hdr(0)]|%{+Q}[capture.res.hdr(0)]|"
                + "%{+Q,-M}[capture.res.hdr(0)] Q %{+X}ci:%{+X}cp R %pid S %rt %lc T %U U %{+Q}ID V %{+Q}H W %ms")
        #expect(
            Self.line(format, r, c)
                == "N \"127.0.0.1\" O \"be\" P |-|\"\"|\"\" Q 7F000001:DE1C R 30400 S 0 0 T 79 U \"\" V \"vm\" W 710")
        let http = Self.parse(
            "c %HM|%HU|%HP|%HPO|%HQ|%HV d %{+Q}r e %{+E}r f %si:%sp %bi:%bp g %{+Q}f %{+Q}ft %{+Q}s %{+Q}ST %{+Q}B "
                + "h %{+Q}tsc %{+Q}ts i %{+Q}hr %{+Q}hrl %hrl %{+Q}hs %hsl j %{+Q}CC %CC k %fi:%fp %{+Q}ci %{+Q}cp")
        #expect(
            Self.line(http, r, c)
                == "c GET|/x/y?q=1|/x/y|/x/y|?q=1|HTTP/1.1 d \"GET /x/y?q=1 HTTP/1.1\" e GET /x/y?q=1 HTTP/1.1 "
                + "f 127.0.0.1:18081 127.0.0.1:53052 g \"fe\" \"fe\" \"s1\" 200 120 h ---- -- "
                + "i \"{ex#22ample.com|}\" \"ex#22ample.com\" \"\" ex#22ample.com - \"{}\" - j \"\" - "
                + "k 127.0.0.1:18080 \"127.0.0.1\" 56860")
        // Dates: the accept's, to the second in GMT and with the local offset; the timestamp in hex.
        r.date = c.acceptDate
        #expect(Self.line(Self.parse("%T|%Ts|%{+X}Ts"), r, c) == "07/Dec/2026:05:06:38 +0000|1796619998|6B163EDE")
    }

    @Test func spacesAreSeparatorsThatFollowOnlyWrittenItems() {
        var (r, c) = Self.request
        r.requestHeaders = nil
        r.responseHeaders = nil
        r.mode = .tcp
        c.samples = ["127.0.0.1"]
        // As HAProxy 2.6 wrote this format for a TCP session: leading spaces gone, runs of spaces one, the space
        // after an item that wrote nothing gone with it, a trailing one kept.
        let format = Self.parse("  A %ci  %hr %hs x %[src] %ST  ", http: false)
        #expect(Self.line(format, r, c) == "A 127.0.0.1 x 127.0.0.1 0 ")
        // `%%` is a percent sign; a `%` before a character that starts nothing is dropped.
        #expect(Self.line(Self.parse("100%% %-x"), r, c) == "100% -x")
    }

    @Test func logasapMarksTheTotalsAsHAProxyDoes() {
        var (r, c) = Self.request
        r.logASAP = true
        r.totalTime = 12
        c.idleTime = 3
        #expect(Self.line(Self.parse("%Ta %Tt %Tu %B %Ti %Tq"), r, c) == "+12 +15 +12 +120 3 3")
    }

    @Test func refusedAsHAProxyRefusesThem() {
        func error(_ text: String, http: Bool = true) -> String? {
            do {
                _ = try CustomLogFormat.parse(text, http: http)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(error("%r", http: false) == "format variable 'r' is reserved for HTTP mode")
        #expect(error("%TR/%Ta", http: false) == "format variable 'TR' is reserved for HTTP mode")
        #expect(error("%hr %ID %tsc", http: false) == nil)
        #expect(error("%fe") == "no such format variable 'fe'. If you wanted to emit the '%' character verbatim, you need to use '%%'")
        #expect(error("50%") == "truncated line after '%'")
        #expect(error("%[src") == "missing ']' after 'src'")
        #expect(error("%{+Q} x")?.hasPrefix("parse argument modifier without variable name") == true)
        #expect(error("5% off")?.hasPrefix("unexpected variable name near ' '") == true)
    }

    @Test func requestLinePartsAsHAProxyCutsThem() {
        func parts(_ line: String) -> [String] {
            let p = RequestLineParts(line)
            return [.method, .uri, .path, .pathOnly, .query, .version].map { String(p.part($0)) }
        }
        #expect(parts("GET http://h.example/a/b?c HTTP/1.1") == ["GET", "http://h.example/a/b?c", "http://h.example/a/b", "/a/b", "?c", "HTTP/1.1"])
        #expect(parts("GET /") == ["GET", "/", "/", "/", "", "HTTP/0.9"])
        #expect(parts("<BADREQ>") == Array(repeating: "<BADREQ>", count: 6))
    }
}
