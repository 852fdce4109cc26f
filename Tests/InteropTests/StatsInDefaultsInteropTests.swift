import Foundation
import TestSupport
import Testing

/// `stats` keywords in a `defaults` section, as real-world files write them, beside HAProxy 2.6: every HTTP proxy
/// after it serves the page at that URI with those credentials, one that sets its own `stats uri` serves it there,
/// and a `mode tcp` proxy drops them with HAProxy's warning (both start).
@Suite("stats in defaults beside HAProxy", .serialized)
struct StatsInDefaultsInteropTests {
    @Test func everyHTTPProxyServesThePageAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "stats-defaults")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let origin = try await HTTPOrigin(name: "o", port: 0)
        let echo = try await EchoBackend()
        let results = try await besideHAProxy(ports: 3, in: dir, messages: messages) { ports in
            """
            global
                log 127.0.0.1:\(logs.port) local0 info
            defaults
                log global
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
                stats enable
                stats uri /lb-status
                stats auth ops:secret
                stats realm Gate
            frontend web
                bind 127.0.0.1:\(ports[0])
                default_backend app
            listen own
                bind 127.0.0.1:\(ports[1])
                stats uri /mine
                server o 127.0.0.1:\(origin.port)
            listen raw
                bind 127.0.0.1:\(ports[2])
                mode tcp
                server e 127.0.0.1:\(echo.port)
            backend app
                server o 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            func get(_ port: Int, _ path: String, auth: Bool) throws -> String {
                var request = "GET \(path) HTTP/1.1\r\nHost: example\r\nConnection: close\r\n"
                if auth { request += "Authorization: Basic \(Data("ops:secret".utf8).base64EncodedString())\r\n" }
                let answer = String(decoding: try Peers.exchange(port: port, Array((request + "\r\n").utf8)), as: UTF8.self)
                let status = answer.split(separator: "\r\n").first.map(String.init) ?? "nothing"
                let realm = answer.range(of: #"realm="[^"]*""#, options: .regularExpression).map { String(answer[$0]) } ?? ""
                return "\(port == ports[0] ? "web" : "own") \(path) auth=\(auth): \(status) \(realm)"
            }
            var seen = [
                try get(ports[0], "/lb-status", auth: false), try get(ports[0], "/lb-status", auth: true),
                try get(ports[0], "/other", auth: false), try get(ports[1], "/mine", auth: true),
                try get(ports[1], "/lb-status", auth: true),
            ]
            // The TCP proxy relays as before.
            let echoed = try Peers.exchange(port: ports[2], Array("ping".utf8), halfClose: true)
            seen.append("raw: \(String(decoding: echoed, as: UTF8.self))")
            return seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains { $0.hasPrefix("web /lb-status auth=false: HTTP/1.1 401") && $0.hasSuffix("realm=\"Gate\"") }, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("web /lb-status auth=true: HTTP/1.1 200") }, "\(ours)")
        #expect(ours.contains("raw: ping"), "\(ours)")
    }
}
