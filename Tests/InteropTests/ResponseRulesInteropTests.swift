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

    /// `http-response deny` and `return` replace the server's response as HAProxy 2.6 does: the default 502 page,
    /// `deny_status` with a reply's words, `return` with a string, an `errorfile`, an `http-errors` section's file,
    /// nothing; the later rules not applied, the client kept alive as HAProxy keeps it, the lines `PH--`/`LH--`
    /// with the same sizes (what had come of the server's response, then the reply), and `dresp` and the
    /// response classes of `show stat` the same (the server counts what it answered).
    @Test func denyAndReturnReplaceTheServersResponseAsHAProxyDoes() async throws {
        let dir = try TemporaryDirectory(prefix: "response-replies")
        let origin = try await HTTPOrigin(name: "o")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        try "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\n\r\n<h1>gone</h1>\n"
            .write(toFile: dir.file("404.http"), atomically: true, encoding: .utf8)
        let paths = ["/missing", "/x"]
        let results = try await besideHAProxy(ports: 7, in: dir, messages: messages) { ports in
            """
            global
                stats socket \(dir.file("\(ports[0]).sock")) level admin
            \(httpPreamble(logPort: logs.port).dropFirst("global\n".count))
            http-errors site
                errorfile 404 \(dir.file("404.http"))
            frontend deny
                bind 127.0.0.1:\(ports[0])
                http-response deny if { status 404 }
                default_backend b
            frontend words
                bind 127.0.0.1:\(ports[1])
                http-response deny deny_status 403 hdr X-Why blocked if { status 404 }
                http-response set-header X-After yes
                default_backend b
            frontend string
                bind 127.0.0.1:\(ports[2])
                http-response return status 410 content-type text/plain string "gone away" hdr X-A yes if { status 404 }
                http-response set-header X-After yes
                default_backend b
            frontend file
                bind 127.0.0.1:\(ports[3])
                http-response return status 503 errorfile \(dir.file("404.http")) if { status 404 }
                default_backend b
            frontend section
                bind 127.0.0.1:\(ports[4])
                http-response return status 404 errorfiles site if { status 404 }
                default_backend b
            frontend nothing
                bind 127.0.0.1:\(ports[5])
                http-response return if { status 404 }
                default_backend b
            frontend inbackend
                bind 127.0.0.1:\(ports[6])
                default_backend guarded
            backend b
                server o 127.0.0.1:\(origin.port)
            backend guarded
                http-response deny deny_status 500 if { res.hdr(content-type) -m beg text/ } { status 404 }
                server o 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for port in ports {
                // Two requests on one connection: the reply, then the server's own answer when HAProxy keeps it.
                let pair = paths.map { "GET \($0) HTTP/1.1\r\nHost: h\r\n" }.joined(separator: "\r\n")
                    .replacingOccurrences(of: "GET /x HTTP/1.1\r\nHost: h\r\n", with: "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n")
                    + "\r\n"
                seen.append(String(decoding: try Peers.exchange(port: port, Array(pair.utf8)), as: UTF8.self))
            }
            let lines = await messages.take(waitingFor: 12, seconds: 20) { $0.contains(" [") }
            // A frontend's 4xx count also holds the readiness probes (a connection that sent nothing is HAProxy's
            // 400), as many as it took on either side: left out of the frontends' rows.
            let stats = try RuntimeAPIInteropTests.statRows(dir.file("\(ports[0]).sock")).map { row in
                ["pxname", "svname", "dresp", "hrsp_2xx", "hrsp_4xx", "hrsp_5xx"]
                    .map { row["svname"] == "FRONTEND" && $0 == "hrsp_4xx" ? "-" : row[$0] ?? "?" }
                    .joined(separator: ",")
            }
            return seen + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted() + stats
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.first?.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n") == true, "\(ours)")
        #expect(ours.first?.contains("origin o\n") == true, "kept alive after the deny: \(ours)")
        #expect(ours.contains { $0.contains(" PH-- ") } && ours.contains { $0.contains(" LH-- ") }, "\(ours)")
        // The rule after the deny is not applied to its reply, only to the next response.
        #expect(
            ours.dropFirst().first?.hasPrefix(
                "HTTP/1.1 403 Forbidden\r\nx-why: blocked\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\n") == true,
            "\(ours)")
        #expect(ours.contains("deny,FRONTEND,1,1,-,1"), "one deny, one 502: \(ours)")
        // Six 404s from the server, four 200s (the files' replies close: they have no length), two denied.
        #expect(ours.contains("b,o,2,4,6,0"), "the server counts its own 404s: \(ours)")
    }

    /// `http-after-response set-header|add-header|del-header` on every response as HAProxy 2.6 applies them: the
    /// server's (after the `http-response` rules; the backend's first; `%B` as the server sent it) and the proxy's
    /// own — deny page, `return`, redirect, 401, 503, monitor URI, stats page — (`%B` counting what they add), with
    /// a condition on the status.
    @Test func afterResponseRulesReachEveryResponseAsHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "after-response")
        let origin = try await HTTPOrigin(name: "o")
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let paths = ["/ok", "/missing", "/deny", "/ret", "/redir", "/auth", "/none", "/mon", "/stats"]
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            userlist u
                user a insecure-password b
            frontend a
                bind 127.0.0.1:\(ports[0])
                monitor-uri /mon
                http-request deny if { path /deny }
                http-request return status 200 content-type text/plain string ok if { path /ret }
                http-request redirect location /else if { path /redir }
                http-request auth realm r if { path /auth } !{ http_auth(u) }
                use_backend none if { path /none }
                http-response set-header X-Response yes
                http-after-response set-header X-After yes
                http-after-response add-header X-Add 1
                http-after-response del-header Content-Type
                http-after-response set-header X-Missing 1 if { status 404 }
                stats enable
                stats uri /stats
                default_backend b
            backend b
                http-after-response set-header X-Backend-After b
                server o 127.0.0.1:\(origin.port)
            backend none
                server x 127.0.0.1:\(refusing.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for path in paths {
                let request = "GET \(path) HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                let head = answer.components(separatedBy: "\r\n\r\n").first ?? ""
                // The stats page is this build's own (its length and framing differ): its added fields only.
                let fields = head.split(separator: "\r\n").filter { path != "/stats" || $0.hasPrefix("x-") }
                seen.append("\(path): " + fields.joined(separator: "|"))
            }
            let lines = await messages.take(waitingFor: 8, seconds: 20) { $0.contains(" [") }
            return seen
                + lines.filter { $0.contains(" [") && !$0.contains("<STATS>") }.map { withoutActconn(normalizedHTTPLine($0)) }
                    .sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(
            ours.first
                == "/ok: HTTP/1.1 200 OK|content-length: 9|x-response: yes|x-backend-after: b|x-after: yes|x-add: 1|connection: close",
            "\(ours)")
        #expect(ours.contains { $0.hasPrefix("/missing:") && $0.contains("x-missing: 1") }, "\(ours)")
        #expect(ours.filter { $0.hasPrefix("/") }.allSatisfy { $0.contains("x-after: yes") && !$0.contains("content-type") }, "\(ours)")
    }

    /// `http-response set-status CODE [reason TEXT]` as HAProxy 2.6: the client gets the status (HAProxy's reason
    /// for it, or the one given), later rules see it, the line logs it with `%B` as the server sent its head, the
    /// frontend and backend count it and the server what it answered.
    @Test func setStatusAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "set-status")
        let origin = try await HTTPOrigin(name: "o")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            global
                stats socket \(dir.file("\(ports[0]).sock")) level admin
            \(httpPreamble(logPort: logs.port).dropFirst("global\n".count))
            frontend a
                bind 127.0.0.1:\(ports[0])
                http-response set-status 503 if { status 404 }
                http-response set-status 201 reason "Made It" if { status 200 }
                http-response set-header X-S %[status]
                default_backend b
            backend b
                server o 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for path in ["/missing", "/x"] {
                let request = "GET \(path) HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                seen.append("\(path): " + (answer.components(separatedBy: "\r\n\r\n").first ?? "").split(separator: "\r\n").joined(separator: "|"))
            }
            let lines = await messages.take(waitingFor: 2, seconds: 20) { $0.contains(" [") }
            // A frontend's 4xx count also holds the readiness probes: left out.
            let stats = try RuntimeAPIInteropTests.statRows(dir.file("\(ports[0]).sock")).map { row in
                ["pxname", "svname", "hrsp_2xx", "hrsp_4xx", "hrsp_5xx"]
                    .map { row["svname"] == "FRONTEND" && $0 == "hrsp_4xx" ? "-" : row[$0] ?? "?" }
                    .joined(separator: ",")
            }
            return seen + lines.filter { $0.contains(" [") }.map { withoutActconn(normalizedHTTPLine($0)) }.sorted() + stats
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains { $0.hasPrefix("/missing: HTTP/1.1 503 Service Unavailable|") && $0.contains("x-s: 503") }, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("/x: HTTP/1.1 201 Made It|") && $0.contains("x-s: 201") }, "\(ours)")
        #expect(ours.contains("b,o,1,1,0") && ours.contains("b,BACKEND,1,0,1"), "\(ours)")
    }

    @Test func repliesHAProxyRefusesAreRefused() throws {
        let dir = try TemporaryDirectory(prefix: "response-replies-bad")
        for (line, says) in [
            ("http-response return status 299 default-errorfiles", "status code '299' not handled by default with 'default-errorfiles' argument"),
            ("http-response deny deny_status 700", "Unexpected status code '700'"),
            ("http-response return string x", "a content type must be defined when non-empty payload is configured"),
            ("http-response return status 204 content-type text/plain lf-string %[status]", "No body expected for 204 responses"),
            ("http-response return string a file /etc/hostname", "unexpected 'file' argument, 'string' already defined"),
            ("http-response set-status 99", "expects an integer status code between 100 and 999"),
        ] {
            try expectRefusedAsByHAProxy(line, says: says, in: dir)
        }
    }

    @Test func aRequestFetchInAResponseValueIsRefusedAsHAProxyRefusesIt() throws {
        let dir = try TemporaryDirectory(prefix: "response-rules-bad")
        try expectRefusedAsByHAProxy(
            "http-response set-header X-Path %[path]",
            says: "sample fetch <path> may not be reliably used here because it needs 'HTTP request headers'", in: dir)
    }
}
