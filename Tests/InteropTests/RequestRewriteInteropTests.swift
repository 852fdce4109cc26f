import Foundation
import TestSupport
import Testing

/// `http-request set-path|set-query|set-uri|replace-path|replace-uri|replace-header|replace-value` beside HAProxy 2.6:
/// the same request heads reach the servers, later rules and `use_backend` see the rewritten request, and the log
/// keeps the request line as the client sent it.
@Suite("Request rewriting beside HAProxy", .serialized)
struct RequestRewriteInteropTests {
    @Test func serversGetTheRequestsHAProxySends() async throws {
        let dir = try TemporaryDirectory(prefix: "rewrite")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let app = try await RequestRecorder(reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let api = try await RequestRecorder(reply: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\napi")
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend web
                bind 127.0.0.1:\(ports[0])
                http-request replace-path /old/(.*) /new/\\1 if { path_beg /old/ }
                http-request set-path /api%[path] if { hdr(x-api) -m found }
                http-request replace-uri ^/legacy\\?id=([0-9]+)$ /items/\\1?from=legacy
                http-request set-query v=2 if { path /q }
                http-request set-uri /fixed?x=1 if { path /everything }
                http-request replace-header Cookie (.*)secret=[^;]*(.*) \\1secret=hidden\\2
                http-request replace-value X-List ^([a-z]+)$ <\\1>
                http-request set-path %[path,regsub(^/strip/,/)] if { path_beg /strip/ }
                http-request set-header X-Host %[hdr(host),lower,regsub([.],_,g)]
                http-request set-header X-Once %[hdr(host),regsub(o,0)]
                http-request set-header X-Seen-Path %[path]
                use_backend api if { path_beg /api/ }
                default_backend app
            backend app
                server a 127.0.0.1:\(app.port)
            backend api
                server b 127.0.0.1:\(api.port)

            """
        } _: { _, ports in
            let (appBefore, apiBefore) = (app.requests.count, api.requests.count)
            for (target, extra) in [
                ("/old/page?keep=1", ""), ("/v1/users", "X-Api: yes\r\n"), ("/legacy?id=42", ""), ("/legacy?id=x", ""),
                ("/q?a=1", ""), ("/everything/else", ""), ("/everything", ""),
                ("/c", "Cookie: a=1; secret=s3cr3t; b=2\r\n"), ("/strip/deep/er", ""), ("/l", "X-List: one, Two,three\r\nX-List: four\r\n"),
            ] {
                _ = try Peers.exchange(
                    port: ports[0], Array("GET \(target) HTTP/1.1\r\nHost: WwW.Foo.example\r\n\(extra)Connection: close\r\n\r\n".utf8))
            }
            let heads = (app.requests.dropFirst(appBefore).map { "app: " + String(decoding: $0, as: UTF8.self) }
                + api.requests.dropFirst(apiBefore).map { "api: " + String(decoding: $0, as: UTF8.self) })
                .map { $0.replacingOccurrences(of: "\r\n", with: " | ") }
            let lines = await messages.take(waitingFor: 10, seconds: 10) { $0.contains(" [") }
            return heads + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        print("rewritten: \(results["proxy"] ?? [])")
        #expect(results["proxy"]?.contains { $0.hasPrefix("app: GET /new/page?keep=1 HTTP/1.1") } == true, "\(results)")
        #expect(results["proxy"]?.contains { $0.hasPrefix("api: GET /api/v1/users HTTP/1.1") } == true, "\(results)")
        try await app.close()
        try await api.close()
    }

    /// `http-response replace-header|replace-value` (corpus file 14's `Location` rewrite): the clients get the heads
    /// HAProxy gives them.
    @Test func clientsGetTheResponsesHAProxyRewrites() async throws {
        let dir = try TemporaryDirectory(prefix: "rewrite-response")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let server = try await RequestRecorder(
            reply: "HTTP/1.1 302 Found\r\nLocation: http://backups/files/a.tgz\r\nX-Tags: red, Blue,green\r\n"
                + "Set-Cookie: sid=1; Path=/old\r\nContent-Length: 0\r\n\r\n")
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            listen web
                bind 127.0.0.1:\(ports[0])
                http-response replace-header Location http://backups/(.*) /\\1
                http-response replace-value X-Tags ^([a-z]+)$ \\1-ok
                http-response add-header X-Tags black
                http-response replace-value X-Tags ^black$ white
                http-response replace-header Set-Cookie (.*)Path=/old(.*) \\1Path=/new\\2
                server s 127.0.0.1:\(server.port)

            """
        } _: { _, ports in
            let answer = try Peers.exchange(
                port: ports[0], Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            return String(decoding: answer, as: UTF8.self).split(separator: "\r\n").map(String.init)
        }
        expectSameSides(results)
        #expect(results["proxy"]?.contains("location: /files/a.tgz") == true, "\(results)")
        try await server.close()
    }
}
