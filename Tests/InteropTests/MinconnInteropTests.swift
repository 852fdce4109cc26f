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
        let origin = try await ScriptedOrigin { _ in
            ["HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n"] + Array(repeating: "x", count: 20)
        }
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
                timeout queue 5s
            listen l
                bind 127.0.0.1:\(ports[0])
                fullconn 100
                server s 127.0.0.1:\(origin.port) minconn 1 maxconn 10

            """
        } _: { _, ports in
            let port = ports[0]
            var clients: [Task<[UInt8], any Error>] = []
            for n in 0..<3 {
                clients.append(
                    Task.detached {
                        try Peers.exchange(port: port, Array("GET /\(n) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
                    })
                try await Task.sleep(for: .milliseconds(60))
            }
            for client in clients { _ = try await client.value }
            let lines = await messages.take(waitingFor: 3, seconds: 5) { $0.contains(" [") }
            // The queue places (`srv_queue/backend_queue`) tell who waited.
            return lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        #expect(results["proxy"]?.contains { $0.contains(" 0/1 ") || $0.contains(" 0/2 ") } == true, "\(results)")
        try await origin.close()
    }
}
