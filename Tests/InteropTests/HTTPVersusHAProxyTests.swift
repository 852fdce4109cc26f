import Foundation
import TestSupport
import Testing

/// The same HTTP configuration and the same requests through Debian's HAProxy 2.6 and through `proxy`, to a real
/// nginx: the httplog lines must be the same apart from pids, client ports, dates and timers.
@Suite("proxy's httplog beside real HAProxy's", .serialized)
struct HTTPVersusHAProxyTests {
    /// An httplog line with what differs between two runs blanked: the pid, the client port, the dates and the
    /// timers' values (their -1s stay: which phases happened must be the same).
    static func normalized(_ datagram: String) -> String {
        var words = ProxyVersusHAProxyTests.normalized(datagram).split(separator: " ").map(String.init)
        // <134>MMM DD HH:MM:SS haproxy[PID]: ip:PORT [DATE] fe be/srv TR/Tw/Tc/Tr/Ta status bytes …
        if words.count > 8 {
            words[8] = words[8].split(separator: "/").map { $0 == "-1" ? "-1" : "T" }.joined(separator: "/")
        }
        return words.joined(separator: " ")
    }

    /// The `global` and `defaults` of a comparison: httplog to the receiver, one thread, short timeouts (a section's
    /// own lines follow, indented for `defaults` or starting a section).
    static func preamble(logPort: Int) -> String {
        """
        global
            log 127.0.0.1:\(logPort) local0 info
            nbthread 1
        defaults
            log global
            mode http
            option httplog
            option dontlognull
            timeout connect 1s
            timeout client 5s
            timeout server 5s

        """
    }

    /// HAProxy's and the proxy's log lines and answers (see `run`) are the same, each pair shown when not.
    static func expectSame(
        _ lines: [[String]], _ answers: [[String]], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            lines[1] == lines[0],
            "\nours:\n\(lines[1].joined(separator: "\n"))\ntheirs:\n\(lines[0].joined(separator: "\n"))",
            sourceLocation: sourceLocation)
        for (theirs, ours) in zip(answers[0], answers[1]) { #expect(ours == theirs, sourceLocation: sourceLocation) }
    }

    typealias Exchange = (frontend: Int, request: String, lines: Int, halfClose: Bool)

    /// Runs HAProxy and the proxy on `config` (given each its ports), sends `exchanges` one at a time on their own
    /// connections to both, and returns the log lines and the answers (nginx's dates out) of each: HAProxy's first.
    static func run(
        _ config: ([Int]) -> String, frontends: Int, logs: LoopbackUDPReceiver, in dir: TemporaryDirectory,
        _ exchanges: [Exchange]
    ) async throws -> (lines: [[String]], answers: [[String]])? {
        let haproxy = try Peers.find("haproxy")
        // All different: two frontends on one port would share its connections.
        let ports = try Peers.freePorts(2 * frontends)
        let theirPorts = Array(ports[..<frontends])
        let ourPorts = Array(ports[frontends...])
        try config(theirPorts).write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
        try config(ourPorts).write(toFile: dir.file("proxy.cfg"), atomically: true, encoding: .utf8)
        let theirs = try RunningPeer(haproxy, ["-db", "-f", dir.file("haproxy.cfg")], logPath: dir.file("haproxy.out"))
        let ours = try RunningPeer(
            try Products.path("proxy"), ["-f", dir.file("proxy.cfg")], logPath: dir.file("proxy.out"))
        defer {
            theirs.stop()
            ours.stop()
        }
        #expect(Peers.waitUntil(seconds: 10) { (theirPorts + ourPorts).allSatisfy { Peers.isListening(port: $0) } })
        try await Task.sleep(for: .milliseconds(500))
        var lines: [[String]] = []
        var answers: [[String]] = []
        for ports in [theirPorts, ourPorts] {
            var got: [String] = []
            var received: [String] = []
            for exchange in exchanges {
                let port = ports[exchange.frontend]
                let answer = try await blocking {
                    try Peers.exchange(port: port, Array(exchange.request.utf8), halfClose: exchange.halfClose)
                }
                received.append(Self.withoutDates(String(decoding: answer, as: UTF8.self)))
                var wanted = exchange.lines
                while wanted > 0 {
                    guard let datagram = await logs.next(within: 10) else {
                        Issue.record("no log line from port \(port) for \(exchange.request.debugDescription)")
                        return nil
                    }
                    let text = String(decoding: datagram, as: UTF8.self)
                    guard text.contains("]: 127.0.0.1:") else { continue }
                    got.append(Self.normalized(text))
                    wanted -= 1
                }
                // A proxy sends the line before it frees the session: give it that moment, or the next line may count
                // this session as still open.
                try await Task.sleep(for: .milliseconds(50))
            }
            lines.append(got)
            answers.append(received)
        }
        return (lines, answers)
    }

    @Test func httplogLinesEqualHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "http-vs-haproxy")
        let nginx = try Nginx(in: dir)
        defer { nginx.stop() }
        let logs = try await LoopbackUDPReceiver()
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        func config(_ ports: [Int]) -> String {
            Self.preamble(logPort: logs.port)
                + """
                retries 1
                timeout http-request 2s
            frontend fe
                bind 127.0.0.1:\(ports[0])
                capture request header User-Agent len 8
                capture response header Content-Type len 20
                acl api path_beg -i /API
                http-request deny if { path_beg /forbidden }
                http-request set-header X-From tollgate
                http-response set-header X-Content-Type-Options nosniff
                use_backend api if api
                default_backend web
            backend api
                http-response del-header Server
                http-response add-header Cache-Control no-store
                http-response set-header X-Content-Type-Options "left for the frontend's rule"
                server a1 127.0.0.1:\(nginx.port)
            backend web
                http-response set-header Strict-Transport-Security "max-age=63072000; includeSubDomains"
                http-response add-header X-Frame-Options DENY
                http-response del-header x-frame-options
                http-response add-header X-Frame-Options SAMEORIGIN
                balance roundrobin
                server n1 127.0.0.1:\(nginx.port)
                server n2 127.0.0.1:\(nginx.port)
            frontend fe_dead
                bind 127.0.0.1:\(ports[1])
                default_backend dead
            backend dead
                server d1 127.0.0.1:\(dead)
            frontend fe_nosrv
                bind 127.0.0.1:\(ports[2])

            """
        }
        // Each exchange on its own connection, one at a time (the counts in a line depend on what else is open); the
        // client half-closes after its requests.
        let exchanges: [Exchange] = [
            (0, "GET /index.html HTTP/1.1\r\nHost: t\r\nUser-Agent: Test/1.0\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /api/v1 HTTP/1.1\r\nHost: t\r\nUser-Agent: curl/7.88.1\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /forbidden HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1, true),
            (0, "HEAD /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /index.html HTTP/1.0\r\n\r\n", 1, true),
            (0, "POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", 1, true),
            (
                0,
                "POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                1, true
            ),
            // Two requests in one write (pipelined), the second closing: two lines. (Not half-closed: HAProxy drops a
            // pipelined request when the client's end of input comes before it is served.)
            (
                0,
                "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\nGET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                2, false
            ),
            // Refused requests, sent without shutting the client's side (HAProxy reports a refused request that
            // arrives with the end of its input as `CR` or `PR`, as it reads one or the other first).
            (0, "GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n", 1, false),
            (0, "NOT HTTP AT ALL\r\n\r\n", 1, false),
            (1, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1, true),
            (2, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1, true),
        ]
        guard let (lines, answers) = try await Self.run(config, frontends: 3, logs: logs, in: dir, exchanges) else {
            try await logs.close()
            return
        }
        let (their, our) = (lines[0], lines[1])
        #expect(their.count == exchanges.map(\.lines).reduce(0, +))
        #expect(
            our == their,
            "\nours:\n\(our.joined(separator: "\n"))\ntheirs:\n\(their.joined(separator: "\n"))")
        // What the clients received is the same too (nginx's Date header aside).
        for (theirs, ours) in zip(answers[0], answers[1]) { #expect(ours == theirs) }
        // The `http-response` rules were carried out (not merely ignored by both): the backend's, then the
        // frontend's, after the server's fields.
        let web = answers[1][0].lowercased()
        #expect(web.contains("strict-transport-security: max-age=63072000; includesubdomains\r\n"))
        #expect(web.contains("x-frame-options: sameorigin\r\n") && !web.contains("x-frame-options: deny"))
        let api = answers[1][2].lowercased()
        #expect(!api.contains("\r\nserver:") && api.contains("cache-control: no-store\r\n"))
        #expect(api.contains("x-content-type-options: nosniff\r\n") && !api.contains("left for"))
        try await logs.close()
    }

    /// `errorfile` as Debian's stock haproxy.cfg uses it (HTTP/1.0 pages with `Connection: close`, in `defaults`)
    /// and as sites write their own (HTTP/1.1 with a length, in a frontend or a backend): the same bytes to the
    /// client, the same connection kept or closed, the same `%B`. With them, `src` ACLs (inline networks and a `-f`
    /// blocklist file with comments, a dotted mask and IPv6) deciding a deny and a route.
    @Test func errorFilesAndSourceACLsAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "errorfile-vs-haproxy")
        let nginx = try Nginx(in: dir)
        defer { nginx.stop() }
        let logs = try await LoopbackUDPReceiver()
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        let debian =
            "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\n"
            + "Content-Type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\n"
            + "No server is available to handle this request.\n</body></html>\n\n"
        let debian403 =
            "HTTP/1.0 403 Forbidden\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n"
            + "\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n\n"
        let json = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 17\r\n"
            + "Retry-After: 5\r\n\r\n{\"error\":\"busy\"}\n"
        try debian.write(toFile: dir.file("503.http"), atomically: true, encoding: .utf8)
        try debian403.write(toFile: dir.file("403.http"), atomically: true, encoding: .utf8)
        try json.write(toFile: dir.file("503-json.http"), atomically: true, encoding: .utf8)
        try "# blocked sources\n10.0.0.0/8\n\n192.0.2.0/255.255.255.0\n2001:db8::/32\n127.0.0.1\n".write(
            toFile: dir.file("blocklist.ips"), atomically: true, encoding: .utf8)
        func config(_ ports: [Int]) -> String {
            Self.preamble(logPort: logs.port)
                + """
                retries 0
                errorfile 503 \(dir.file("503.http"))
                errorfile 403 \(dir.file("403.http"))
                errorfile 400 \(dir.file("403.http"))
            frontend fe
                bind 127.0.0.1:\(ports[0])
                acl lan src 10.0.0.0/8 192.168.0.0/16 ::1
                acl loopback src 127.0.0.0/8
                http-request deny if { path_beg /forbidden }
                http-request deny if lan
                use_backend web if loopback
                default_backend dead
            frontend fe_blocked
                bind 127.0.0.1:\(ports[3])
                acl blocked src -f \(dir.file("blocklist.ips"))
                http-request deny if blocked
                default_backend web
            backend web
                acl secret path_beg /secret
                http-request deny if secret
                http-request set-header X-Backend web
                server n1 127.0.0.1:\(nginx.port)
            frontend fe_dead
                bind 127.0.0.1:\(ports[1])
                default_backend dead
            backend dead
                errorfile 503 \(dir.file("503-json.http"))
                server d1 127.0.0.1:\(dead)
            frontend fe_nosrv
                bind 127.0.0.1:\(ports[2])

            """
        }
        let exchanges: [Exchange] = [
            (0, "GET /forbidden HTTP/1.1\r\nHost: t\r\n\r\nGET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1, false),
            // The backend's own file, HTTP/1.1 with a length: the connection stays for the next request.
            (1, "GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /two HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 2, false),
            (1, "GET / HTTP/1.0\r\n\r\n", 1, true),
            // No backend: the defaults' Debian page.
            (2, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 1, false),
            // The request parser's 400 stays HAProxy's own page whatever `errorfile 400` says.
            (0, "NOT HTTP AT ALL\r\n\r\n", 1, false),
            // `src`: the client (127.0.0.1) is in the blocklist file; it is not in `lan`, and `loopback` routes it.
            (3, "GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1, true),
            // The backend's own rules, after the frontend's and the route: a deny logged under the backend.
            (0, "GET /secret/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 1, true),
        ]
        guard let (lines, answers) = try await Self.run(config, frontends: 4, logs: logs, in: dir, exchanges) else {
            try await logs.close()
            return
        }
        Self.expectSame(lines, answers)
        // The files were sent (not merely HAProxy's own pages by both).
        #expect(answers[1][1].components(separatedBy: "{\"error\":\"busy\"}").count == 3, "two answers on one connection")
        #expect(answers[1][3].hasPrefix("HTTP/1.0 503 Service Unavailable\r\ncache-control: no-cache\r\n"))
        #expect(answers[1][4].hasPrefix("HTTP/1.1 400 Bad request\r\n"))
        #expect(answers[1][5].hasPrefix("HTTP/1.0 403 Forbidden\r\n") && answers[1][6].hasPrefix("HTTP/1.1 200 OK"))
        #expect(answers[1][7].hasPrefix("HTTP/1.0 403 Forbidden\r\n") && lines[1].last?.contains(" fe web/<NOSRV> ") == true)
        try await logs.close()
    }

    /// `redirect` and `http-request redirect` as the real-world files write them (`redirect scheme https if
    /// !{ ssl_fc }`, a moved page, a prefix with `drop-query`, every code): the same answers, the same `LR--` lines,
    /// the connection kept or closed alike, and HAProxy's order (every `http-request` rule before `redirect`). With
    /// them, `monitor-uri`.
    @Test func redirectsAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "redirect-vs-haproxy")
        let nginx = try Nginx(in: dir)
        defer { nginx.stop() }
        let logs = try await LoopbackUDPReceiver()
        func config(_ ports: [Int]) -> String {
            Self.preamble(logPort: logs.port)
                + """
            frontend fe
                bind 127.0.0.1:\(ports[0])
                redirect scheme https code 301 if !{ ssl_fc } { path_beg /secure }
                redirect location /new code 303 if { path /old }
                redirect location /t code 307 if { path /t7 }
                redirect prefix http://other.example drop-query if { path_beg /p/ }
                redirect prefix / if { path_beg /same }
                redirect prefix /app append-slash if { path_beg /slash }
                redirect location /lit%[path] if { path /legacy }
                http-request set-var(txn.apex) req.hdr(host),regsub(^www\\.,) if { hdr_beg(host) www. }
                http-request redirect location https://%[var(txn.apex)]%[path]?%[query] code 301 if { path_beg /apex }
                http-request redirect location %[var(txn.none)] ignore-empty if { path /empty }
                http-request redirect prefix https://%[req.hdr(host),lower] if { path_beg /pfx }
                http-request redirect scheme https drop-query append-slash if { path_beg /ss }
                http-request redirect location /moved code 308 if { path /hr } || { path /old }
                http-request redirect scheme https if { path_beg /hs }
                monitor-uri /healthz
                acl example hdr_dom(host) -i example.com
                acl images path_dir img
                acl signed hdr(authorization) -m found
                acl beta hdr(x-channel) -m beg -i BETA
                http-request deny if signed
                http-request redirect location /dom if example
                http-request redirect location /dir if images
                http-request redirect location /beta if beta
                http-request deny if METH_TRACE
                http-request redirect location /never if FALSE || !TRUE
                http-request redirect location /local if LOCALHOST METH_POST HTTP
                http-request redirect location /got if METH_GET { path /g }
                acl versioned path_reg ^/api/v[0-9]+/
                acl crawler hdr_reg(user-agent) -i (bot|crawler)
                http-request deny if crawler
                http-request redirect location /regex if versioned
                use_backend to-https if { path_beg /tohttps }
                default_backend web
            backend web
                server n1 127.0.0.1:\(nginx.port)
            backend to-https
                redirect scheme https code 301 unless { path_end /stay }
                http-request deny if { path /tohttps/deny }
                server n1 127.0.0.1:\(nginx.port)

            """
        }
        let exchanges: [Exchange] = [
            (0, "GET /secure/x?q=1 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n", 1, true),
            // `http-request redirect` wins over the `redirect` written before it.
            (0, "GET /old HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /t7 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /p/q?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /same/x?y=2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            // `append-slash`: after the query when it is kept (HAProxy's reading), not twice.
            (0, "GET /slash/x?y=2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /slash/dir/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /ss/a?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /hs HTTP/1.0\r\n\r\n", 1, true),
            (0, "GET /secure HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 1, true),
            // Kept alive: a redirect, then a page from the server on the same connection.
            (0, "GET /hr HTTP/1.1\r\nHost: a\r\n\r\n", 1, true),
            (0, "GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            // `monitor-uri`: answered, not logged (no line to wait for); only the exact URI.
            (0, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 0, true),
            (0, "HEAD /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, true),
            (0, "GET /healthz HTTP/1.0\r\n\r\n", 0, true),
            (0, "GET /healthz?full=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            // `_dom`, `_dir`, `-m found`, `-m beg -i`: matched and not matched.
            (0, "GET / HTTP/1.1\r\nHost: www.EXAMPLE.com\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET / HTTP/1.1\r\nHost: notexample.com\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /static/img/a.png HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /static/imgs/a.png HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic eDp5\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET / HTTP/1.1\r\nHost: a\r\nX-Channel: beta-2\r\nConnection: close\r\n\r\n", 1, true),
            // Predefined ACLs: METH_TRACE, FALSE, TRUE, LOCALHOST, METH_POST, HTTP, METH_GET (GET and HEAD).
            (0, "TRACE / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 1, true),
            (0, "HEAD /g HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            // Regular expressions: `path_reg` anchored, `hdr_reg -i` anywhere; matched and not.
            (0, "GET /api/v2/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /api/vx/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: MyCRAWLER/1\r\nConnection: close\r\n\r\n", 1, true),
            // A backend's `redirect`, after its `http-request` rules; a request it lets through.
            (0, "GET /tohttps/x?y=1 HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /tohttps/deny HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /tohttps/stay HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n", 1, true),
            // The legacy `redirect` takes its target as written; `http-request redirect` makes it (a variable, the
            // path and query; `ignore-empty` with nothing made: no redirect, the request goes on).
            (0, "GET /legacy HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /apex/x?y=1 HTTP/1.1\r\nHost: www.site.test\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /empty HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, true),
            (0, "GET /pfx/a?b=1 HTTP/1.1\r\nHost: H.test\r\nConnection: close\r\n\r\n", 1, true),
        ]
        guard let (lines, answers) = try await Self.run(config, frontends: 1, logs: logs, in: dir, exchanges) else {
            try await logs.close()
            return
        }
        Self.expectSame(lines, answers)
        #expect(answers[1][0].contains("\r\nlocation: https://a.example/secure/x?q=1\r\n"))
        #expect(answers[1][1].hasPrefix("HTTP/1.1 308 Permanent Redirect\r\n"))
        #expect(answers[1][5].contains("\r\nlocation: /app/slash/x?y=2/\r\n"), "\(answers[1][5])")
        #expect(answers[1][7].contains("\r\nlocation: https://a/ss/a/\r\n"), "\(answers[1][7])")
        #expect(answers[1][12].hasSuffix("<h1>200 OK</h1>\nService ready.\n</body></html>\n"))
        let made = answers[1].suffix(4)
        #expect(made.first?.contains("\r\nlocation: /lit%[path]\r\n") == true, "\(made)")
        #expect(made.dropFirst().first?.contains("\r\nlocation: https://site.test/apex/x?y=1\r\n") == true, "\(made)")
        #expect(made.last?.contains("\r\nlocation: https://h.test/pfx/a?b=1\r\n") == true, "\(made)")
        #expect(lines[1].count == exchanges.map(\.lines).reduce(0, +), "the monitor URI's requests are not logged")
        try await logs.close()
    }

    /// What reaches the server (nginx echoes the headers at /headers): `option forwardfor` plain, with `except`, with
    /// `header` and `if-none`, a backend's over its frontend's, `http-request set-header`/`del-header`, and `option
    /// originalto` (the frontend's, and a backend's `except` that the frontend's option does not escape).
    @Test func headersReachingTheServerAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "forwardfor-vs-haproxy")
        let nginx = try Nginx(in: dir)
        defer { nginx.stop() }
        let logs = try await LoopbackUDPReceiver()
        func config(_ ports: [Int]) -> String {
            Self.preamble(logPort: logs.port)
                + """
            frontend plain
                bind 127.0.0.1:\(ports[0])
                option forwardfor
                http-request set-header X-Gate tollgate
                default_backend web
            frontend trusted
                bind 127.0.0.1:\(ports[1])
                option forwardfor except 127.0.0.0/8
                http-request del-header X-Gate
                default_backend web
            frontend named
                bind 127.0.0.1:\(ports[2])
                option forwardfor
                default_backend real_ip
            frontend expressions
                bind 127.0.0.1:\(ports[3])
                http-request set-header X-Real-IP %[src]
                http-request add-header X-Forwarded-For "%ci"
                http-request set-header X-Gate "%[src] %[hdr(host)] [%[req.hdr(x-missing)]] 100%% %fi %[path] %[method] %[query] %[url] %f %[fe_name] %[ssl_fc]"
                default_backend web
            frontend original
                bind 127.0.0.1:\(ports[4])
                option originalto
                default_backend web
            frontend original_excepted
                bind 127.0.0.1:\(ports[5])
                option originalto
                default_backend web_local
            backend web_local
                option originalto except 127.0.0.0/8
                server n1 127.0.0.1:\(nginx.port)
            backend web
                server n1 127.0.0.1:\(nginx.port)
            backend real_ip
                option forwardfor header X-Real-IP if-none
                server n1 127.0.0.1:\(nginx.port)

            """
        }
        let get = "GET /headers HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        let exchanges: [Exchange] = [
            (0, get + "\r\n", 1, true),
            (1, get + "X-Gate: from-client\r\n\r\n", 1, true),
            (2, get + "\r\n", 1, true),
            (2, get + "X-Real-IP: 192.0.2.9\r\n\r\n", 1, true),
            // Log-format values: samples fetched, `%%` a percent sign, a missing header empty.
            (3, "GET /headers?a=1&b=2 HTTP/1.1\r\nHost: first\r\nHost: first\r\nConnection: close\r\n\r\n", 1, true),
            // `option originalto`: the address the client connected to; none when the backend excepts it.
            (4, get + "\r\n", 1, true),
            (5, get + "\r\n", 1, true),
        ]
        guard let (lines, answers) = try await Self.run(config, frontends: 6, logs: logs, in: dir, exchanges) else {
            try await logs.close()
            return
        }
        Self.expectSame(lines, answers)
        #expect(answers[1][0].hasSuffix("xff=127.0.0.1 real= gate=tollgate\n"))
        #expect(answers[1][1].hasSuffix("xff= real= gate=\n"), "a client in except gets no header")
        #expect(answers[1][2].hasSuffix("xff= real=127.0.0.1 gate=\n"), "the backend's header, not the frontend's")
        #expect(answers[1][3].hasSuffix("xff= real=192.0.2.9 gate=\n"), "if-none keeps the client's")
        #expect(answers[1][4].contains("real=127.0.0.1 gate=127.0.0.1 first [] 100% 127.0.0.1 /headers GET"))
        #expect(answers[1][5].hasSuffix("orig=127.0.0.1 xff= real= gate=\n"), "\(answers[1][5])")
        #expect(answers[1][6].hasSuffix("orig= xff= real= gate=\n"), "the backend's except, as HAProxy checks both")
        try await logs.close()
    }

    /// `log stdout` (containers log this way): `format raw` and the default header, a line each, as HAProxy writes
    /// them.
    @Test func logsOnStandardOutputAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "stdout-vs-haproxy")
        func config(_ ports: [Int]) -> String {
            """
            global
                log stdout format raw local0 info
                nbthread 1
            defaults
                mode http
                option httplog
                option dontlognull
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            frontend f_raw
                bind 127.0.0.1:\(ports[0])
                log global
                http-request deny
            frontend f_full
                bind 127.0.0.1:\(ports[1])
                log stdout local0
                http-request deny

            """
        }
        let haproxy = try Peers.find("haproxy")
        var outputs: [[String]] = []
        for (index, command) in [haproxy, try Products.path("proxy")].enumerated() {
            let ports = [try Peers.freePort(), try Peers.freePort()]
            let file = dir.file("p\(index).cfg")
            try config(ports).write(toFile: file, atomically: true, encoding: .utf8)
            let peer = try RunningPeer(command, ["-db", "-f", file], logPath: dir.file("out\(index)"))
            #expect(Peers.waitUntil(seconds: 10) { ports.allSatisfy { Peers.isListening(port: $0) } })
            // The probes' connections gone first (a line counts the sessions open when it is written).
            try await Task.sleep(for: .milliseconds(500))
            for p in ports {
                _ = try await blocking {
                    try Peers.exchange(
                        port: p, Array("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".utf8), halfClose: true)
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            peer.stop()
            let text = try String(contentsOfFile: dir.file("out\(index)"), encoding: .utf8)
            #expect(!text.contains("\n\n"), "one line each, no empty line between: \(text)")
            outputs.append(
                text.split(separator: "\n").map(String.init).filter { $0.contains("127.0.0.1:") && !$0.hasPrefix("[") }
                    .map(Self.withoutVariables))
        }
        #expect(outputs[0].count == 2)
        #expect(outputs[1] == outputs[0], "\nours:\n\(outputs[1].joined(separator: "\n"))\ntheirs:\n\(outputs[0].joined(separator: "\n"))")
        #expect(outputs[1].first?.hasPrefix("127.0.0.1:PORT [DATE] f_raw f_raw/<NOSRV> ") == true, "raw: no header")
        #expect(outputs[1].last?.hasPrefix("<134>") == true, "the default format has the syslog header")
    }

    /// A log line with its pid, syslog date, client port, accept date and timer values blanked.
    static func withoutVariables(_ line: String) -> String {
        var text = line
        for (pattern, replacement) in [
            (#"haproxy\[\d+\]"#, "haproxy[PID]"), (#"^<134>\w{3} [ \d]\d \d\d:\d\d:\d\d "#, "<134>DATE "),
            (#"127\.0\.0\.1:\d+"#, "127.0.0.1:PORT"), (#"\[\d\d/\w{3}/\d{4}:[\d:.]+\]"#, "[DATE]"),
            (#" \d+/-1/-1/-1/\d+ "#, " T/-1/-1/-1/T "),
        ] {
            text = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return text
    }

    static func withoutDates(_ response: String) -> String {
        response.split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.lowercased().hasPrefix("date: ") }.joined(separator: "\r\n")
    }
}

/// The seed's own conf/haproxy.cfg (ports and log target moved to free ones, its chroot, user and group kept):
/// `listen admin_stats` serves the stats page with the seed's credentials, refuses others with 401, and logs each
/// access as the stats backend.
@Suite("The seed's haproxy.cfg in HTTP mode")
struct SeedStatsPageTests {
    @Test func theSeedsStatsPageAnswersItsCredentials() async throws {
        let dir = try TemporaryDirectory(prefix: "seed-stats")
        let logs = try await LoopbackUDPReceiver()
        let stats = try Peers.freePort()
        let mycat = try Peers.freePort()
        let seed = try String(contentsOfFile: Products.packageRoot + "/conf/haproxy.cfg", encoding: .utf8)
        let config =
            seed
            .replacingOccurrences(of: "log 127.0.0.1 local0 info", with: "log 127.0.0.1:\(logs.port) local0 info")
            .replacingOccurrences(of: "bind :48800", with: "bind 127.0.0.1:\(stats)")
            .replacingOccurrences(of: "bind :3307", with: "bind 127.0.0.1:\(mycat)")
        try config.write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
        // The seed's chroot (/usr/share/haproxy) under --root, and its user and group (Debian's haproxy package
        // makes them) applied when run as root (make test, CI); -db keeps its `daemon` in the foreground.
        try FileManager.default.createDirectory(
            atPath: dir.file("root/usr/share/haproxy"), withIntermediateDirectories: true)
        let proxy = try RunningPeer(
            try Products.path("proxy"), ["-db", "--root", dir.file("root"), "-f", dir.file("haproxy.cfg")],
            logPath: dir.file("proxy.out"))
        defer { proxy.stop() }
        #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: stats) }, "\(proxy.output)")
        func get(_ auth: String?) async throws -> String {
            let header = auth.map { "Authorization: Basic \(Data($0.utf8).base64EncodedString())\r\n" } ?? ""
            let request = "GET /admin-status HTTP/1.1\r\nHost: t\r\n\(header)Connection: close\r\n\r\n"
            return String(
                decoding: try await blocking { try Peers.exchange(port: stats, Array(request.utf8)) }, as: UTF8.self)
        }
        #expect(try await get(nil).hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        #expect(try await get("admin:wrong").hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        let page = try await get("admin:admin")
        #expect(page.hasPrefix("HTTP/1.1 200 OK\r\n") && page.contains("<h2>mycat_servers<span>mode tcp"))
        var statuses: [Int] = []
        var audits: [String] = []
        while statuses.count < 3 || audits.count < 2, let datagram = await logs.next(within: 10) {
            let text = String(decoding: datagram, as: UTF8.self)
            if text.contains("audit: stats login") { audits.append(text) }
            guard text.contains(" admin_stats admin_stats/<STATS> ") else { continue }
            if let word = text.split(separator: " ").first(where: { ["200", "400", "401"].contains($0) }) {
                statuses.append(Int(word) ?? 0)
            }
        }
        // The refusals logged as HAProxy 2.6 logs them: 400 (its stats applet answers the refused request too).
        #expect(statuses == [400, 400, 200])
        #expect(
            audits.count == 2 && audits[0].contains("refused user=admin") && audits[1].contains("granted user=admin"))
        try await logs.close()
    }
}
