import Foundation
import TestSupport
import Testing

/// Server `minconn` with the backend's `fullconn` beside HAProxy 2.6: while the backend's load is low, a server takes
/// only its `minconn` (the others queue), as HAProxy's dynamic limit lets them.
@Suite("minconn and fullconn beside HAProxy", .serialized)
struct MinconnInteropTests {
    @Test func aLightlyLoadedBackendKeepsItsServerAtMinconn() async throws {
        let dir = try TemporaryDirectory(prefix: "minconn")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        // A server that never answers: each session holds its slot for `timeout server`, whatever the machine's load.
        let origin = try StalledServer()
        // A run on a loaded machine may lose a side's lines (seen once under the full suite): up to three runs, until
        // both sides logged their three sessions.
        var results: [String: [String]] = [:]
        for _ in 0..<3 where results.isEmpty || results.values.contains(where: { $0.count != 3 }) {
            results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
                """
                \(httpPreamble(logPort: logs.port))
                    timeout queue 10s
                    timeout server 1500ms
                listen l
                    bind 127.0.0.1:\(ports[0])
                    fullconn 100
                    server s 127.0.0.1:\(origin.port) minconn 1 maxconn 10

                """
            } _: { _, ports in
                let port = ports[0]
                // Clients on threads of their own, started 300 ms apart by a thread too (the tasks' pool, and so a task's
                // sleep, may be held up for seconds by other suites on a loaded machine).
                Thread {
                    for n in 0..<3 {
                        Thread {
                            _ = try? Peers.exchange(port: port, Array("GET /\(n) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
                        }.start()
                        usleep(300_000)
                    }
                }.start()
                let lines = await messages.take(waitingFor: 3, seconds: 15) { $0.contains(" [") }
                // The queue places (`srv_queue/backend_queue`) tell who waited.
                return lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
            }
        }
        expectSameSides(results)
        #expect(results["proxy"]?.contains { $0.contains(" 0/1 ") || $0.contains(" 0/2 ") } == true, "\(results)")
        origin.stop()
    }
}
