import Foundation
import TestSupport
import Testing

/// `retry-on` beside HAProxy 2.6: a 503 or a close without a response tried again on another server with
/// `option redispatch` (a POST's body sent again), on the same one without (HAProxy stops one retry before a failed
/// connect would: `retries 3` makes three attempts), and `retry-on` without `conn-failure` leaving a failed
/// connection alone. The same answers, the same lines (retry counts and all).
@Suite("retry-on beside HAProxy", .serialized)
struct RetryOnInteropTests {
    @Test func theSameRetriesAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "retry-on")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let bad = try await ScriptedOrigin { path in
            path.hasSuffix("/drop")
                ? [ScriptedOrigin.close]
                : ["HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"]
        }
        let good = try await HTTPOrigin(name: "good")
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                use_backend redispatching if { path_beg /r/ }
                use_backend same if { path_beg /s/ }
                use_backend noconn if { path_beg /n/ }
                default_backend conn
            backend redispatching
                balance roundrobin
                option redispatch
                retry-on 503 empty-response
                server bad 127.0.0.1:\(bad.port)
                server good 127.0.0.1:\(good.port)
            backend same
                retry-on 503
                retries 3
                server bad 127.0.0.1:\(bad.port)
            backend noconn
                retry-on 503 504
                server dead 127.0.0.1:\(refusing.port)
            backend conn
                server dead 127.0.0.1:\(refusing.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for (method, path) in [
                ("GET", "/r/1"), ("GET", "/r/2"), ("POST", "/r/3"), ("GET", "/r/drop"), ("GET", "/s/x"), ("GET", "/n/x"),
                ("GET", "/c/x"),
            ] {
                let body = method == "POST" ? "hello" : ""
                let request =
                    "\(method) \(path) HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                let status = answer.split(separator: "\r\n").first ?? ""
                let text = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined()
                seen.append("\(method) \(path): \(status) \(text.hasPrefix("<html>") ? "(page)" : text)")
            }
            let lines = await messages.take(waitingFor: 7, seconds: 15) { $0.contains(" [") }
            return seen + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("GET /r/1: HTTP/1.1 200 OK origin good\n"), "\(ours)")
        #expect(ours.contains("POST /r/3: HTTP/1.1 200 OK origin good\n"), "\(ours)")
        #expect(ours.contains("GET /s/x: HTTP/1.1 503 Service Unavailable busy"), "\(ours)")
        try await bad.close()
        try await good.close()
    }
}
