import Foundation
import TestSupport
import Testing

/// `http-request use-service prometheus-exporter` beside HAProxy 2.6's built-in exporter: the same metric families
/// in the same order, with the same types and labels, for frontends, backends and servers (the values are each
/// side's own; the help texts are this build's words), the same answer head, and the same log line.
@Suite("Prometheus exporter beside HAProxy", .serialized)
struct PrometheusExporterInteropTests {
    /// A metric line without its value (this build writes `NaN` for the figures it does not keep, such as the
    /// averages of the last 1024 sessions; HAProxy a number).
    static func shape(_ line: String) -> String {
        guard !line.hasPrefix("#") else { return line.hasPrefix("# TYPE") ? line : "# HELP" }
        guard let space = line.lastIndex(of: " ") else { return line }
        return String(line[..<space]) + " V"
    }

    /// A chunked body's content (each side cuts its chunks where it likes).
    static func dechunked(_ body: String) -> String {
        var out = ""
        var rest = Substring(body)
        while let end = rest.range(of: "\r\n"), let size = Int(rest[..<end.lowerBound], radix: 16), size > 0 {
            let start = end.upperBound
            let stop = rest.utf8.index(start, offsetBy: size, limitedBy: rest.endIndex) ?? rest.endIndex
            out += rest[start..<stop]
            // Past the chunk's CRLF (counted in bytes: `\r\n` is one Character).
            rest = rest[(rest.utf8.index(stop, offsetBy: 2, limitedBy: rest.endIndex) ?? rest.endIndex)...]
        }
        return out
    }

    @Test func theSameFamiliesAndLabelsAsHAProxysExporter() async throws {
        let dir = try TemporaryDirectory(prefix: "promex")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let web = try await LoopbackHTTPResponder()
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend fe
                bind 127.0.0.1:\(ports[0])
                http-request use-service prometheus-exporter if { path /metrics }
                default_backend be
            backend be
                server s1 127.0.0.1:\(web.port) check inter 500
                server s2 127.0.0.1:\(web.port) maxconn 10 disabled
            listen tcp_side
                mode tcp
                bind 127.0.0.1:\(ports[1])
                server t1 127.0.0.1:\(web.port)

            """
        } _: { _, ports in
            _ = try StickTableInteropTests.answer(port: ports[0], "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            try await Task.sleep(for: .milliseconds(700))
            let answer = try Peers.exchange(
                port: ports[0],
                Array("GET /metrics?scope=frontend&scope=backend&scope=server HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            let text = String(decoding: answer, as: UTF8.self)
            let head = text.components(separatedBy: "\r\n\r\n").first?.split(separator: "\r\n").map(String.init) ?? []
            let body = Self.dechunked(text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n"))
            let metrics = body.split(separator: "\n").map(String.init).filter { $0.hasPrefix("haproxy_") || $0.hasPrefix("#") }
            let lines = await messages.take(waitingFor: 2, seconds: 5) { $0.contains(" [") }
            return head + metrics.map(Self.shape)
                + lines.filter { $0.contains("/metrics") }.map { normalizedHTTPLine($0).replacingOccurrences(of: #" 200 \d+ "#, with: " 200 B ", options: .regularExpression) }
        }
        expectSameSides(results)
        #expect(results["proxy"]?.contains("haproxy_server_status{proxy=\"be\",server=\"s2\",state=\"MAINT\"} V") == true, "\(results)")
        try await web.close()
    }
}
