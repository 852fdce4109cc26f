import Foundation
import TestSupport
import Testing

/// Sample fetches and converters beside HAProxy 2.6, shown through `http-request return … lf-string`: `url_param`
/// (`urlp`, `urlp_val`, a delimiter), the `urlp*` ACLs, `env()`, `ipmask()`, `base`, `req.hdr_cnt`, `req.fhdr`,
/// `req.hdr` (its last value), `uuid` (its shape). The same answers, byte for byte.
@Suite("Sample fetches beside HAProxy", .serialized)
struct SampleFetchesInteropTests {
    @Test func theSameValuesAsHAProxyFetches() async throws {
        let dir = try TemporaryDirectory(prefix: "fetches")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        setenv("TOLLGATE_SAMPLE_SITE", "site-7", 1)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                acl page urlp_val(page) gt 3
                acl beta urlp(channel) -m beg -i beta
                acl token urlp(token) -m found
                acl semi urlp(JSESSIONID,;) -m found
                http-request deny deny_status 429 if page
                http-request return status 403 content-type text/plain string "beta" if beta
                http-request return status 200 content-type text/plain lf-string "session=%[url_param(JSESSIONID,;)]" if semi
                http-request return status 200 content-type text/plain lf-string "q=%[url_param(q)] v=%[urlp_val(n)] token=%[urlp(token)] env=%[env(TOLLGATE_SAMPLE_SITE)] none=%[env(TOLLGATE_NOT_SET)] net=%[src,ipmask(24)] net16=%[src,ipmask(255.255.0.0)] base=%[base] n=%[req.hdr_cnt(x-a)] f=%[req.fhdr(x-a)] h=%[req.hdr(x-a)]" if token
                http-request return status 200 content-type text/plain lf-string "uuid=%[uuid]"

            """
        } _: { _, ports in
            let requests = [
                "/p?q=hello&n=12x&token=t1", "/p?page=4", "/p?page=3&token=", "/x?channel=BETA-2",
                "/app;JSESSIONID=abc", "/other",
            ]
            return try requests.map { path in
                let request =
                    "GET \(path) HTTP/1.1\r\nHost: Site.test\r\nX-A: 1, 2\r\nX-A: 3\r\nConnection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                let status = answer.split(separator: "\r\n").first ?? ""
                var body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined()
                if body.hasPrefix("uuid=") {
                    // Random: its shape only.
                    let parts = body.dropFirst(5).split(separator: "-").map(\.count)
                    body = "uuid parts \(parts), version \(body.dropFirst(5 + 14).prefix(1))"
                }
                return "\(path): \(status) \(body.hasPrefix("<html>") ? "(page)" : body)"
            }
        }
        unsetenv("TOLLGATE_SAMPLE_SITE")
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(
            ours.first?.contains("q=hello v=12 token=t1 env=site-7 none= net=127.0.0.0 net16=127.0.0.0 base=Site.test/p")
                == true, "\(ours)")
        #expect(ours.first?.contains("n=3 f=3 h=3") == true, "\(ours)")
        #expect(ours.last?.contains("uuid parts [8, 4, 4, 4, 12], version 4") == true, "\(ours)")
    }

    /// `http-request capture SAMPLE len N` beside HAProxy 2.6: each rule's slot after the `capture request header`
    /// slots declared before it, filled when the rule runs (cut to N bytes; empty when its condition does not hold
    /// or the sample has none), in the log's `{…}` as HAProxy writes it.
    @Test func capturesByRulesAreLoggedAsHAProxyLogsThem() async throws {
        let dir = try TemporaryDirectory(prefix: "capture-rules")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let origin = try await HTTPOrigin(name: "o")
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                capture request header Host len 20
                http-request capture req.hdr(user-agent) len 8
                capture request header X-A len 5
                http-request capture url_param(q) len 10 if { path_beg /s }
                http-request set-var(txn.kind) str(search) if { path_beg /s }
                http-request capture var(txn.kind) len 3
                default_backend b
            backend b
                server o 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            for (path, agent) in [("/s?q=a-long-query-text", "curl/8.5.0"), ("/p?q=x", "x"), ("/s", "Mozilla/5.0 (X11)")] {
                let request = "GET \(path) HTTP/1.1\r\nHost: h.test\r\nUser-Agent: \(agent)\r\nX-A: 123456\r\nConnection: close\r\n\r\n"
                _ = try Peers.exchange(port: ports[0], Array(request.utf8))
            }
            let lines = await messages.take(waitingFor: 3, seconds: 10) { $0.contains(" [") }
            return lines.filter { $0.contains(" [") }.map(normalizedHTTPLine)
        }
        let ours = results["proxy"] ?? []
        #expect(ours == results["haproxy"] ?? [], "\(ours)\n\(results["haproxy"] ?? [])")
        #expect(ours.first?.contains("{h.test|curl/8.5|12345|a-long-que|sea}") == true, "\(ours)")
        try await origin.close()
    }
}
