import Foundation
import TestSupport
import Testing

/// `http-request set-src hdr(x-forwarded-for)` beside HAProxy 2.6 (the set-up behind another load balancer): the
/// request takes the header's last address as its client, for its line, its later rules (a `src` deny) and
/// `option forwardfor`; a value that is no address leaves the client as it was. The same answers, the same headers
/// at the server and the same lines from both.
@Suite("http-request set-src beside HAProxy", .serialized)
struct SetSourceInteropTests {
    @Test func sameClientsInLinesRulesAndHeaders() async throws {
        let dir = try TemporaryDirectory(prefix: "set-src")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let origin = try await HTTPOrigin(name: "web", port: 0)
        let forwarded = [
            ["192.0.2.7"], ["10.0.0.1, 10.9.9.9"], ["not-an-address"], [], ["198.51.100.1", "2001:db8::5"],
        ]
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                option forwardfor
                http-request set-src hdr(x-forwarded-for) if { src 127.0.0.0/8 }
                http-request deny if { src 10.9.9.9 }
                default_backend web
            backend web
                server w 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for values in forwarded {
                let fields = values.map { "X-Forwarded-For: \($0)\r\n" }.joined()
                let request = "GET / HTTP/1.1\r\nHost: x\r\n\(fields)Connection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                let status = answer.split(separator: "\r\n").first.map(String.init) ?? ""
                let atServer = status.contains("200") ? origin.lastHead?.headers["x-forwarded-for"] ?? [] : []
                seen.append("\(values) -> \(status) server saw \(atServer)")
            }
            let lines = await messages.take(waitingFor: forwarded.count, seconds: 10) { $0.contains(" [") }
            // Sorted: under load a line may leave after the next request's.
            return seen + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains { $0.contains("192.0.2.7:PORT") } && ours.contains { $0.contains("10.9.9.9:PORT") }, "\(ours)")
        try await origin.close()
    }
}
