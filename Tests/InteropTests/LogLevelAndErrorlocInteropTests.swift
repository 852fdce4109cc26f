import Foundation
import TestSupport
import Testing

/// `set-log-level` (`http-request` and `http-response`: a line at another severity, none for `silent`, none for a
/// level the log target filters out), `%[unique-id]` in a header the server gets, and `errorloc`/`errorloc303`
/// answering a 503 with a redirect, beside HAProxy 2.6: the same answers, the same lines at the same priorities.
@Suite("set-log-level, unique-id and errorloc beside HAProxy", .serialized)
struct LogLevelAndErrorlocInteropTests {
    @Test func theSameLinesAtTheSamePrioritiesAndTheSameRedirects() async throws {
        let dir = try TemporaryDirectory(prefix: "log-level")
        let origin = try await HTTPOrigin(name: "o")
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 3, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                unique-id-format %ci_%ft
                http-request set-header X-Request-ID %[unique-id]
                http-request set-log-level silent if { path /health }
                http-request set-log-level notice if { path /notice }
                http-request set-log-level debug if { path /debug }
                http-response set-log-level err if { status 404 }
                default_backend b
            frontend down
                bind 127.0.0.1:\(ports[1])
                errorloc 503 http://maintenance.example/
                default_backend dead
            frontend down303
                bind 127.0.0.1:\(ports[2])
                errorloc303 503 /sorry
                default_backend dead
            backend b
                server o 127.0.0.1:\(origin.port)
            backend dead
                server d 127.0.0.1:\(refusing.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for (port, path) in [
                (ports[0], "/health"), (ports[0], "/notice"), (ports[0], "/debug"), (ports[0], "/missing"),
                (ports[0], "/x"), (ports[1], "/"), (ports[2], "/"),
            ] {
                let request = "GET \(path) HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: port, Array(request.utf8)), as: UTF8.self)
                let head = answer.components(separatedBy: "\r\n\r\n").first ?? ""
                seen.append("\(path): " + head.split(separator: "\r\n").joined(separator: "|"))
                if path == "/x" { seen.append("server got: \(origin.lastHead?.headers["x-request-id"] ?? [])") }
            }
            let lines = await messages.take(waitingFor: 5, seconds: 20) { $0.contains(" [") }
            return seen + lines.filter { $0.contains(" [") }.map { withoutActconn(normalizedHTTPLine($0)) }.sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("server got: [\"127.0.0.1_f\"]"), "\(ours)")
        #expect(ours.contains { $0.hasPrefix("<133>") && $0.contains("GET /notice") }, "notice: \(ours)")
        #expect(ours.contains { $0.hasPrefix("<131>") && $0.contains("GET /missing") }, "err: \(ours)")
        #expect(!ours.contains { $0.contains("GET /health") || $0.contains("GET /debug") }, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("/: HTTP/1.1 302 Found|") && $0.contains("location: http://maintenance.example/") }, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("/: HTTP/1.1 303 See Other|") && $0.contains("location: /sorry") }, "\(ours)")
    }

    @Test func aLogLevelHAProxyDoesNotKnowIsRefused() throws {
        let dir = try TemporaryDirectory(prefix: "log-level-bad")
        try expectRefusedAsByHAProxy(
            "http-request set-log-level loud", says: "expects exactly 1 argument (log level name or 'silent')", in: dir)
        try expectRefusedAsByHAProxy("errorloc 299 http://x/", says: "status code '299' not handled", in: dir)
    }
}
