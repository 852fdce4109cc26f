import Foundation
import LogCore
import TestSupport
import Testing

/// `log-format` beside HAProxy 2.6: the same custom formats, the same traffic, the same lines (ports, dates and
/// timers aside, which differ between any two runs).
@Suite("log-format beside HAProxy", .serialized)
struct LogFormatInteropTests {
    /// Each `key=value` whose value changes from run to run, written `key=X`.
    static let volatile = try? NSRegularExpression(
        pattern: #"\b(cp|bp|fp|sp|t|T|tr|trg|trl|Tl|Ts|ms|pid|H|timers|Tt|Td|Ta|Tu|Ti|Tq|Tw|Tc|Tr|TR|ac|rt|lc)=("[^"]*"|\[[^\]]*\]|[^ ,}]*)"#)

    static func normalized(_ line: String) -> String {
        let body = line.split(separator: " ", maxSplits: 1).last.map(String.init) ?? line
        let range = NSRange(body.startIndex..., in: body)
        return volatile?.stringByReplacingMatches(in: body, range: range, withTemplate: "$1=X") ?? body
    }

    @Test func httpFormatsWithFlagsCapturesAndSamplesAsHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "log-format")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let web = try await LoopbackHTTPResponder()
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend rich
                bind 127.0.0.1:\(ports[0])
                capture request header Host len 20
                capture request header X-Missing len 8
                capture response header Content-Type len 30
                log-format "  ci=%ci cp=%cp  fi=%fi fp=%fp tr=[%tr] t=[%t] ft=%ft %b/%s si=%si sp=%sp bi=%bi bp=%bp timers=%TR/%Tw/%Tc/%Tr/%Ta Ti=%Ti Tq=%Tq Tt=%Tt Td=%Td Tu=%Tu %ST %B U=%U %{+Q}CC %CS %tsc ac=%ac %fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}hrl %hsl %{+Q}r %HM|%HU|%HP|%HPO|%HQ|%HV rt=%rt lc=%lc ID=%ID %{+Q}[capture.req.hdr(0),lower] %[capture.req.hdr(1)] %{-M}[capture.req.hdr(1)]x %[src] %[fe_name,upper] %[be_name]/%[srv_name] %[method] %[capture.req.uri] %[ssl_fc] %{+X}ci %{+E}r 100%% "
                default_backend web
            frontend json
                bind 127.0.0.1:\(ports[1])
                log-format '{"client":"%ci","port":"cp=%cp","frontend":"%f","backend":"%b","server":"%s","status":%ST,"bytes":%B,"request":"%{+E}HM %{+E}HU","state":"%ts"}'
                default_backend web
            backend web
                server w 127.0.0.1:\(web.port)

            """
        } _: { _, ports in
            // Two requests on one connection (the second's idle time and stream number), one with an odd path.
            _ = try Peers.exchange(
                port: ports[0],
                Array(
                    ("GET /a/b?x=1&y=\"2\" HTTP/1.1\r\nHost: Ex.AMPLE\r\n\r\n"
                        + "POST /up HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").utf8))
            _ = try Peers.exchange(
                port: ports[1], Array("GET /j]son HTTP/1.1\r\nHost: j\r\nConnection: close\r\n\r\n".utf8))
            let lines = await messages.take(waitingFor: 3, seconds: 10) { $0.contains("ci=") || $0.contains("{") }
            return lines.map(Self.normalized).sorted()
        }
        expectSameSides(results)
        #expect(results["proxy"]?.count == 3, "\(results)")
        #expect(results["proxy"]?.contains { $0.contains("\"ex.ample\"") && $0.contains("rt=X lc=X") } == true, "\(results)")
        try await web.close()
    }

    @Test func tcpFormatsAsHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "log-format-tcp")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let echo = try await EchoBackend()
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port).replacingOccurrences(of: "mode http\n    option httplog", with: "mode tcp"))
                log-format "%{+Q}o ci=%ci cp=%cp %ft %b %s timers=%Tw/%Tc/%Tt Th=%Th Td=%Td %B U=%U %ts %tsc %ST ac=%ac %fc/%bc/%sc/%rc %sq/%bq %hr rt=%rt lc=%lc %[src] %{-Q}[fe_name] %H"
            listen up
                bind 127.0.0.1:\(ports[0])
                server e 127.0.0.1:\(echo.port)
            listen other
                bind 127.0.0.1:\(ports[1])
                server e 127.0.0.1:\(echo.port)

            """
        } _: { _, ports in
            _ = try Peers.exchange(port: ports[0], Array("hello".utf8), halfClose: true)
            _ = try Peers.exchange(port: ports[1], Array("hello, again".utf8), halfClose: true)
            let lines = await messages.take(waitingFor: 2, seconds: 10) { $0.contains("ci=") }
            return lines.map(Self.normalized).map { $0.replacingOccurrences(of: "\"\(HostName.current())\"", with: "HOST") }
                .sorted()
        }
        expectSameSides(results)
        #expect(results["proxy"]?.count == 2, "\(results)")
        try await echo.close()
    }

    /// Without `option httplog`, `option tcplog` or `log-format`, HAProxy logs no traffic line but `Connect from
    /// …` as each stream begins: each TCP session, each HTTP request (a request it cannot parse makes none).
    @Test func withoutAFormatEachStreamIsAConnectLine() async throws {
        let dir = try TemporaryDirectory(prefix: "connect-from")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let web = try await LoopbackHTTPResponder()
        let echo = try await EchoBackend()
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port).replacingOccurrences(of: "    option httplog\n", with: ""))
            frontend h
                bind 127.0.0.1:\(ports[0])
                default_backend web
            backend web
                server w 127.0.0.1:\(web.port)
            listen t
                mode tcp
                bind 127.0.0.1:\(ports[1])
                server e 127.0.0.1:\(echo.port)

            """
        } _: { _, ports in
            _ = try Peers.exchange(
                port: ports[0],
                Array("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            _ = try Peers.exchange(port: ports[0], Array("GARBAGE\r\n\r\n".utf8))
            _ = try Peers.exchange(port: ports[1], Array("hello".utf8), halfClose: true)
            let lines = await messages.take(waitingFor: 4, seconds: 2) { $0.contains("Connect") || $0.contains(" [") }
            return lines.filter { $0.contains("Connect") || $0.contains(" [") }.map { line in
                line.replacingOccurrences(of: #":\d+ "#, with: ":PORT ", options: .regularExpression)
                    .replacingOccurrences(of: #":\d+ \("#, with: ":PORT (", options: .regularExpression)
            }.sorted()
        }
        expectSameSides(results)
        #expect(results["proxy"]?.count == 3, "\(results)")
        try await web.close()
        try await echo.close()
    }

    /// `unique-id-format` and `unique-id-header`: the ID reaches the server in its header (before
    /// `X-Forwarded-For`) and the log's `%ID` and `%[unique-id]` are the same ID.
    @Test func uniqueIDsReachTheServerAndTheLogAsHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "unique-id")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let recorder = try await RequestRecorder()
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend u
                bind 127.0.0.1:\(ports[0])
                option forwardfor
                unique-id-format "%{+X}o %ci_%f_%[src]-%[capture.req.method]%[hostname,lower]"
                unique-id-header X-Unique-ID
                log-format "id=%ID sample=%[unique-id] quoted=%{+Q}ID %ST"
                default_backend rec
            backend rec
                server r 127.0.0.1:\(recorder.port)

            """
        } _: { _, ports in
            _ = try Peers.exchange(port: ports[0], Array("GET /u HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            let lines = await messages.take(waitingFor: 1, seconds: 5) { $0.contains("id=") }
            let head = recorder.requests.last.map { String(decoding: $0, as: UTF8.self) } ?? "nothing"
            let host = HostName.current().lowercased()
            return (lines + [head]).map { $0.replacingOccurrences(of: host, with: "HOST") }
        }
        expectSameSides(results)
        #expect(results["proxy"]?.last?.contains("x-unique-id: 7F000001_u_") == true, "\(results)")
        try await recorder.close()
    }
}
