import Foundation
import TestSupport
import Testing

/// `http-request return` beside HAProxy 2.6: statuses with HAProxy's reason phrases, `content-type`, `string`,
/// `lf-string`, `file`, `hdr` fields (a log-format value too), no payload; answered byte for byte the same, kept
/// alive or closed as HAProxy does, and logged `LR--` with the same sizes.
@Suite("http-request return beside HAProxy", .serialized)
struct HTTPReturnInteropTests {
    @Test func sameRepliesAndLines() async throws {
        let dir = try TemporaryDirectory(prefix: "http-return")
        try "file body\n".write(toFile: dir.file("body.txt"), atomically: true, encoding: .utf8)
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                http-request return status 200 content-type text/plain string "ok" if { path /health }
                http-request return status 503 content-type application/json string "{}" hdr X-A b hdr Cache-Control no-store if { path /json }
                http-request return if { path /empty }
                http-request return status 404 if { path /nf }
                http-request return status 302 hdr Location /x if { path /loc }
                http-request return status 418 content-type text/plain lf-string "from %[src] to %[path]" hdr X-Path %[path] if { path_beg /lf }
                http-request return status 200 content-type text/plain file \(dir.file("body.txt")) if { path /file }
                http-request return status 504 if { path /504 }
                default_backend b
            backend b
                server s 127.0.0.1:\(refusing.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for path in ["/health", "/json", "/empty", "/nf", "/loc", "/lf/a?b=1", "/file", "/504"] {
                let request = "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                seen.append(String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self))
            }
            // Kept alive: two replies on one connection; HTTP/1.0.
            let pair = "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            seen.append(String(decoding: try Peers.exchange(port: ports[0], Array(pair.utf8)), as: UTF8.self))
            seen.append(
                String(decoding: try Peers.exchange(port: ports[0], Array("GET /health HTTP/1.0\r\n\r\n".utf8)), as: UTF8.self))
            let lines = await messages.take(waitingFor: 11, seconds: 10) { $0.contains(" [") }
            return seen + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.first?.hasSuffix("content-type: text/plain\r\nconnection: close\r\n\r\nok") ?? false, "\(ours)")
    }
}
