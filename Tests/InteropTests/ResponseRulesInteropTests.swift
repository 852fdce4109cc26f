import Foundation
import TestSupport
import Testing

/// `http-response` rules made per response, beside HAProxy 2.6 on the same nginx: values in log-format
/// (`%[var(…)]`, `%[status]`, `%[res.hdr(…)]`, `%[src]`), conditions on the status, the response's headers,
/// variables the request set, and a request fetch that never matches there (HAProxy's warning); `http-response
/// set-var`. The same response heads reach the client, field for field.
@Suite("http-response rules beside HAProxy", .serialized)
struct ResponseRulesInteropTests {
    @Test func theSameResponsesReachTheClientAsFromHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "response-rules")
        let nginx = try Nginx(in: dir)
        defer { nginx.stop() }
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                http-request set-var(txn.id) req.hdr(x-id)
                http-request set-var(req.scoped) str(request-only)
                http-request set-var(res.early) str(pruned)
                http-response set-header X-Scopes "[%[var(req.scoped)]][%[var(res.early)]][%[var(txn.id)]]"
                http-request set-var(txn.path) path
                acl api var(txn.path) -m beg /api
                acl never path_beg /never
                http-response set-header X-Id %[var(txn.id)] if { var(txn.id) -m found }
                http-response set-header X-Status %[status]
                http-response set-header X-Type "%[res.hdr(content-type)]"
                http-response add-header X-Api yes if api
                http-response del-header Server if { status 200 }
                http-response set-header X-Not-Found 1 if { status 404 } || { status 500 }
                http-response set-header X-Html 1 if { res.hdr(content-type) -m sub html }
                http-response set-var(txn.length) res.hdr(content-length)
                http-response set-header X-Length %[var(txn.length)]
                http-response set-header X-Never 1 if never
                http-response set-header X-Not-Never 1 if !never
                http-response set-header X-Client %[src]
                default_backend b
            backend b
                http-response set-header X-Backend b if { status 200 }
                server n 127.0.0.1:\(nginx.port)

            """
        } _: { who, ports in
            let requests = [
                ("/", "X-Id: abc"), ("/missing", "X-Id: q"), ("/api/x", "X-Other: 1"), ("/never", "X-Id: n"),
            ]
            return try requests.map { path, header in
                let request = "GET \(path) HTTP/1.1\r\nHost: h\r\n\(header)\r\nConnection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                let head = answer.components(separatedBy: "\r\n\r\n").first ?? ""
                // What differs between two runs of nginx: the date, the validators.
                let fields = head.split(separator: "\r\n").map { $0.lowercased() }.filter {
                    !$0.hasPrefix("date:") && !$0.hasPrefix("etag:") && !$0.hasPrefix("last-modified:")
                }
                return "\(path): \(fields.joined(separator: " | "))"
            }
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.count == 4, "\(ours)")
        #expect(ours.first?.contains("x-id: abc") == true && ours.first?.contains("server:") == false, "\(ours)")
        #expect(ours.first?.contains("x-backend: b") == true && ours.first?.contains("x-html: 1") == true, "\(ours)")
        #expect(ours.dropFirst().first?.contains("x-not-found: 1") == true, "\(ours)")
        // `req.` and `res.` variables set by the request's rules are gone when the response's begin, `txn.` stay.
        #expect(ours.first?.contains("x-scopes: [][][abc]") == true, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("/api/x") && $0.contains("x-api: yes") && !$0.contains("x-id:") }, "\(ours)")
        #expect(ours.allSatisfy { !$0.contains("x-never") && $0.contains("x-not-never: 1") }, "\(ours)")
    }

    @Test func aRequestFetchInAResponseValueIsRefusedAsHAProxyRefusesIt() throws {
        let dir = try TemporaryDirectory(prefix: "response-rules-bad")
        try expectRefusedAsByHAProxy(
            "http-response set-header X-Path %[path]",
            says: "sample fetch <path> may not be reliably used here because it needs 'HTTP request headers'", in: dir)
    }
}
