import Foundation
import TestSupport
import Testing

/// `monitor fail` and `nbsrv()` beside HAProxy 2.6: a `monitor-uri` request answers 200 while the named backend has
/// servers and HAProxy's 503 page when it has none (unlogged either way), and `use_backend … if { nbsrv(B) lt 1 }`
/// fails over to another backend; the same answers and lines from both.
@Suite("monitor fail and nbsrv beside HAProxy", .serialized)
struct MonitorFailInteropTests {
    @Test func sameAnswersAndLines() async throws {
        let dir = try TemporaryDirectory(prefix: "monitor-fail")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let live = try await HTTPOrigin(name: "live", port: 0)
        let spare = try await HTTPOrigin(name: "spare", port: 0)
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let ports = try Peers.freePorts(3)
            try """
                \(httpPreamble(logPort: logs.port))
                frontend up
                    bind 127.0.0.1:\(ports[0])
                    monitor-uri /health
                    monitor fail if { nbsrv(alive) lt 1 }
                    default_backend alive
                frontend down
                    bind 127.0.0.1:\(ports[1])
                    monitor-uri /health
                    acl gone nbsrv(empty) eq 0
                    monitor fail if gone
                    monitor fail unless { nbsrv(alive) ge 1 }
                    default_backend empty
                frontend failover
                    bind 127.0.0.1:\(ports[2])
                    use_backend spare if { nbsrv(empty) lt 1 }
                    default_backend empty
                backend alive
                    server a 127.0.0.1:\(live.port)
                backend empty
                    server d 127.0.0.1:\(dead) disabled
                backend spare
                    server s 127.0.0.1:\(spare.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { ports.allSatisfy(Peers.isListening) }, "\(peer.output)")
            _ = await messages.take(waitingFor: 1, seconds: 0.3) { _ in false }
            var seen: [String] = []
            func get(_ path: String, close: Bool = true) -> String {
                "GET \(path) HTTP/1.1\r\nHost: x\r\n\(close ? "Connection: close\r\n" : "")\r\n"
            }
            // The last one: a keep-alive client's connection outlives the 503 of a backend without servers.
            for (port, request) in [
                (ports[0], get("/health")), (ports[1], get("/health")), (ports[1], get("/health?x")), (ports[2], get("/")),
                (ports[1], get("/x", close: false) + get("/health")),
            ] {
                seen.append(String(decoding: try Peers.exchange(port: port, Array(request.utf8)), as: UTF8.self))
            }
            let lines = await messages.take(waitingFor: 3, seconds: 10) { $0.contains(" [") }
            // Sorted: under load a line may leave after the next request's.
            seen += lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
            results[who] = seen
        }
        let ours = results["proxy"] ?? []
        #expect(ours == results["haproxy"] ?? [])
        #expect(ours.first?.hasPrefix("HTTP/1.1 200 OK") == true && ours.dropFirst().first?.hasPrefix("HTTP/1.1 503") == true)
        #expect(ours.count == 8, "three lines: the failover and the two requests that were no monitor requests (\(ours))")
        #expect(ours[4].components(separatedBy: "HTTP/1.1 503").count == 3, "both answers on one connection: \(ours[4])")
        try await live.close()
        try await spare.close()
    }
}
