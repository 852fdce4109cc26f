import Foundation
import TestSupport
import Testing

/// `option http-server-close` / `httpclose` tell the server `Connection: close`, unless the backend has
/// `option http-pretend-keepalive`: the heads the servers get beside HAProxy 2.6's.
@Suite("Connection: close to servers beside HAProxy", .serialized)
struct ServerCloseInteropTests {
    @Test func serversAreToldAsHAProxyTellsThem() async throws {
        let dir = try TemporaryDirectory(prefix: "server-close")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let server = try await RequestRecorder(reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let results = try await besideHAProxy(ports: 4, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            listen server_close
                bind 127.0.0.1:\(ports[0])
                option http-server-close
                option forwardfor
                server s 127.0.0.1:\(server.port)
            listen both_close
                bind 127.0.0.1:\(ports[1])
                option httpclose
                server s 127.0.0.1:\(server.port)
            listen pretend
                bind 127.0.0.1:\(ports[2])
                option http-server-close
                option http-pretend-keepalive
                server s 127.0.0.1:\(server.port)
            listen keep
                bind 127.0.0.1:\(ports[3])
                server s 127.0.0.1:\(server.port)

            """
        } _: { _, ports in
            let before = server.requests.count
            for port in ports {
                for request in [
                    "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
                    "GET /b HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
                ] {
                    _ = try StickTableInteropTests.answer(port: port, request, seconds: 1)
                }
            }
            return server.requests.dropFirst(before).map {
                String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "\r\n", with: " | ")
            }
        }
        expectSameSides(results)
        #expect(results["proxy"]?.first?.contains("connection: close") == true, "\(results)")
        try await server.close()
    }
}
