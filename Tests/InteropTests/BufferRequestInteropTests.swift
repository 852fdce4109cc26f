import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `option http-buffer-request` beside HAProxy 2.6: a request's body is received before a server is connected to (a
/// slow upload holds no server connection), `100-continue` is answered by the proxy, a body that does not come in
/// `timeout http-request` is a 408, and whole requests reach the server as they came. The same answers, the same
/// lines, the same server connections counted.
@Suite("option http-buffer-request beside HAProxy", .serialized)
struct BufferRequestInteropTests {
    @Test func theBodyIsWaitedForAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "buffer-request")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let origin = try await HTTPOrigin(name: "o")
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                option http-buffer-request
                timeout http-request 1s
                default_backend b
            backend b
                server o 127.0.0.1:\(origin.port)
            frontend f2
                bind 127.0.0.1:\(ports[1])
                use_backend bb if { path_beg /b }
                default_backend b
            backend bb
                option http-buffer-request
                server o 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            let port = ports[0]
            var seen: [String] = []
            // A whole POST, and one with `Expect: 100-continue` (its `100` comes from the proxy).
            for request in [
                "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nok",
                "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            ] {
                let answer = String(decoding: try Peers.exchange(port: port, Array(request.utf8)), as: UTF8.self)
                seen.append(answer.split(separator: "\r\n").prefix(3).joined(separator: " | "))
            }
            // A body that comes slowly: no server connection while it is awaited, then a 408.
            let before = origin.connections
            let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
            let partial = Array("POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc".utf8)
            _ = partial.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            usleep(500_000)
            seen.append("server connections while the body is awaited: \(origin.connections - before)")
            let answer = String(decoding: Peers.readUntilClosed(fd), as: UTF8.self)
            close(fd)
            seen.append("slow: " + (answer.split(separator: "\r\n").first.map(String.init) ?? ""))
            // The option in the backend `use_backend` chose: the body is awaited there, then the server is chosen.
            let viaBackend = try Peers.connectLoopback(port: ports[1], timeoutSeconds: 5)
            let head = Array("POST /b/slow HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabc".utf8)
            let beforeBackend = origin.connections
            _ = head.withUnsafeBytes { write(viaBackend, $0.baseAddress, $0.count) }
            usleep(500_000)
            seen.append("server connections while the backend awaits the body: \(origin.connections - beforeBackend)")
            _ = Array("def".utf8).withUnsafeBytes { write(viaBackend, $0.baseAddress, $0.count) }
            let answered = String(decoding: Peers.readUntilClosed(viaBackend), as: UTF8.self)
            close(viaBackend)
            seen.append("via backend: " + (answered.split(separator: "\r\n").first.map(String.init) ?? ""))
            let lines = await messages.take(waitingFor: 5, seconds: 10) { $0.contains(" [") }
            return seen + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        let ours = results["proxy"] ?? []
        let theirs = results["haproxy"] ?? []
        #expect(ours.count == theirs.count, "\(ours)\n\(theirs)")
        for (o, t) in zip(ours, theirs) { #expect(o == t) }
        #expect(ours.contains("server connections while the body is awaited: 0"), "\(ours)")
        #expect(ours.contains("slow: HTTP/1.1 408 Request Time-out"), "\(ours)")
        #expect(ours.contains("server connections while the backend awaits the body: 0"), "\(ours)")
        #expect(ours.contains("via backend: HTTP/1.1 200 OK"), "\(ours)")
        try await origin.close()
    }
}
