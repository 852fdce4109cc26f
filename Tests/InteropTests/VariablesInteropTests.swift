import Foundation
import TestSupport
import Testing

/// Variables beside HAProxy 2.6: `set-var` with converters (`lower`, `field`) and conditions (`ifnotexists`,
/// `ifgt`, `iflt`, `ifnotempty`), `set-var-fmt`, `unset-var`, `global`'s `set-var`/`set-var-fmt`, `var()` with a
/// default, the `var()` ACL (`-m str -i`, `-m int`, `-m end`), `sess.` variables kept across a connection's requests,
/// `use_backend` named by a variable, and `track-sc0 var(…)`. The same requests get the same answers, byte for byte.
@Suite("Variables beside HAProxy", .serialized)
struct VariablesInteropTests {
    static func config(_ port: Int, logPort: Int, origins: [HTTPOrigin]) -> String {
        """
        global
            set-var proc.limit int(100)
            set-var proc.site str("Shop"),lower
            set-var-fmt proc.label "site-%[var(proc.site)]"
        \(httpPreamble(logPort: logPort))
        backend counted
            stick-table type string len 32 size 100 expire 1m store http_req_cnt
        frontend f
            bind 127.0.0.1:\(port)
            http-request set-var(txn.host) req.hdr(host),lower
            http-request set-var(txn.first) req.hdr(host),field(1,.)
            http-request set-var(txn.last) req.hdr(host),field(-1,.)
            http-request set-var(txn.tail) req.hdr(host),field(2,.,0)
            http-request set-var(txn.cookie) req.cook(id)
            http-request set-var(txn.cookies) req.cook_cnt(id)
            http-request set-var(txn.kept,ifnotexists) str(first)
            http-request set-var(txn.kept,ifnotexists) str(second)
            http-request set-var(txn.big) int(5)
            http-request set-var(txn.big,ifgt) int(3)
            http-request set-var(txn.big,iflt) int(1)
            http-request set-var(txn.full,ifnotempty) req.hdr(x-empty)
            http-request unset-var(txn.cookie) if { path /unset }
            http-request set-var-fmt(txn.pair) "%[var(txn.first)]:%[var(proc.limit)]"
            http-request set-var(txn.seen) var(sess.visits,none)
            http-request set-var(sess.visits) str(yes)
            http-request set-var(proc.hits) var(txn.first)
            http-request track-sc0 var(txn.host) table counted if { path_beg /counted }
            acl is_admin var(txn.first) -m str -i admin
            acl many var(txn.cookies) -m int gt 1
            acl shop var(txn.last) -m end test
            acl again sc0_http_req_cnt gt 2
            http-request deny deny_status 403 if is_admin
            http-request deny deny_status 429 if again
            http-request return status 429 content-type text/plain string "many" if many
            http-request return status 200 content-type text/plain lf-string "host=%[var(txn.host)] first=%[var(txn.first)] last=%[var(txn.last)] tail=%[var(txn.tail)] cookie=%[var(txn.cookie)] n=%[var(txn.cookies)] kept=%[var(txn.kept)] big=%[var(txn.big)] full=%[var(txn.full)] pair=%[var(txn.pair)] def=%[var(txn.none,dflt)] seen=%[var(txn.seen)] label=%[var(proc.label)] hits=%[var(proc.hits)]" if shop !{ path_beg /route }
            use_backend be_%[var(txn.first)] if { path_beg /route }
            default_backend be_www
        backend be_api
            server api 127.0.0.1:\(origins[0].port)
        backend be_www
            server www 127.0.0.1:\(origins[1].port)

        """
    }

    @Test func theSameRequestsGetTheSameAnswersAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "variables")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let origins = [try await HTTPOrigin(name: "api"), try await HTTPOrigin(name: "www")]
        let curl = try Peers.find("curl")
        let requests: [(String, [String])] = [
            ("/x", ["Host: API.shop.test", "Cookie: id=7; other=1"]),
            ("/unset", ["Host: a.b.test", "Cookie: id=7", "X-Empty: "]),
            ("/", ["Host: admin.test"]),
            ("/", ["Host: x.test", "Cookie: id=1", "Cookie: id=2"]),
            ("/route", ["Host: api.example"]),
            ("/route", ["Host: www.example"]),
            ("/route", ["Host: none.example"]),
            ("/counted", ["Host: c.test"]), ("/counted", ["Host: c.test"]), ("/counted", ["Host: c.test"]),
            ("/counted", ["Host: d.test"]),
        ]
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            Self.config(ports[0], logPort: logs.port, origins: origins)
        } _: { _, ports in
            var answers = try requests.map { path, headers in
                let request = "GET \(path) HTTP/1.1\r\n" + headers.map { $0 + "\r\n" }.joined() + "Connection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                let status = answer.split(separator: "\r\n").first ?? ""
                let body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined()
                return "\(path) \(headers[0]): \(status) \(body.hasPrefix("<html>") ? "(page)" : body)"
            }
            // Two requests on one connection: the `sess.` variable set by the first is seen by the second.
            let url = "http://127.0.0.1:\(ports[0])"
            let run = try Peers.run(curl, ["-s", "-H", "Host: one.test", "\(url)/a", "\(url)/b"], timeout: 20)
            answers.append("keep-alive: " + String(decoding: run.stdout, as: UTF8.self))
            return answers
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.first?.contains("first=API last=test tail=shop.test cookie=7 n=1 kept=first big=3") == true, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("/route Host: api.example: HTTP/1.1 200") && $0.contains("origin api") }, "\(ours)")
        #expect(ours.filter { $0.contains("429") }.count == 2, "\(ours)")
        #expect(ours.last?.contains("seen=none") == true && ours.last?.contains("seen=yes") == true, "\(ours)")
    }

    /// `var(…) -m bool`: integers and booleans true when not 0; text cast as HAProxy casts it (a sign and the digits
    /// that follow, whatever comes after them: `12x` true, `true` false); no variable, no match; a value after it
    /// plays no part.
    @Test func boolMatchesAsHAProxyCastsTheVariable() async throws {
        let dir = try TemporaryDirectory(prefix: "variables-bool")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let cases = [
            ("s1", "str(1)"), ("strue", "str(true)"), ("s0", "str(0)"), ("s12x", "str(12x)"), ("sempty", "str()"),
            ("sneg", "str(-3)"), ("szero", "str(-0)"), ("i5", "int(5)"), ("i0", "int(0)"), ("btrue", "bool(true)"),
            ("bfalse", "bool(false)"),
        ]
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
            \(cases.map { "    http-request set-var(txn.a) \($0.1) if { path /\($0.0) }" }.joined(separator: "\n"))
                http-request return status 200 hdr X-M yes if { var(txn.a) -m bool 0 }
                http-request return status 200 hdr X-M no

            """
        } _: { _, ports in
            try (cases.map(\.0) + ["unset"]).map { path in
                let request = "GET /\(path) HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                return "\(path) " + (answer.split(separator: "\r\n").first { $0.hasPrefix("x-m:") } ?? "none")
            }
        }
        expectSameSides(results)
        #expect(
            results["proxy"] == [
                "s1 x-m: yes", "strue x-m: no", "s0 x-m: no", "s12x x-m: yes", "sempty x-m: no", "sneg x-m: yes",
                "szero x-m: no", "i5 x-m: yes", "i0 x-m: no", "btrue x-m: yes", "bfalse x-m: no", "unset x-m: no",
            ], "\(results)")
    }

    @Test func namesAndMatchMethodsAreCheckedAsHAProxyChecksThem() throws {
        let dir = try TemporaryDirectory(prefix: "variables-bad")
        let cases: [(line: String, says: String)] = [
            ("http-request set-var(foo) str(x)", "invalid variable name 'foo'"),
            ("http-request set-var(txn.a-b) str(x)", "invalid syntax at char '-b'"),
            ("http-request set-var(txn.a,ifsometimes) str(x)", "unknown condition \"ifsometimes\""),
            ("http-request unset-var(txn.a,ifset)", "unset-var does not expect parameters"),
            ("acl a var(txn.a) x\n    http-request deny if a", "matching method must be specified first (using '-m')"),
            ("http-request set-var(txn.a) nosuchfetch", "'nosuchfetch'"),
        ]
        for (line, says) in cases { try expectRefusedAsByHAProxy(line, says: says, in: dir) }
        let global = dir.file("global.cfg")
        try """
        global
            set-var txn.a str(x)
        defaults
            mode http

        """.write(toFile: global, atomically: true, encoding: .utf8)
        let ours = try Peers.run(try Products.path("proxy"), ["-c", "-f", global])
        let text = String(decoding: ours.stderr + ours.stdout, as: UTF8.self)
        #expect(text.contains("only scope 'proc' is permitted in the global section"), "\(text)")
    }
}

/// `line` in an HTTP frontend (or `section`: a listen) at line 8 of the file: HAProxy 2.6 refuses the file, and the proxy too, naming the file,
/// the line and saying `says`.
func expectRefusedAsByHAProxy(
    _ line: String, says: String, in dir: TemporaryDirectory, section: String = "frontend f"
) throws {
    let file = dir.file("bad.cfg")
    try """
    defaults
        mode http
        timeout connect 1s
        timeout client 1s
        timeout server 1s
    \(section)
        bind 127.0.0.1:1
        \(line)
        default_backend b
    backend b
        server s 127.0.0.1:2

    """.write(toFile: file, atomically: true, encoding: .utf8)
    let theirs = try Peers.run(try Peers.find("haproxy"), ["-c", "-f", file])
    let ours = try Peers.run(try Products.path("proxy"), ["-c", "-f", file])
    let text = String(decoding: ours.stderr + ours.stdout, as: UTF8.self)
    #expect(theirs.status != 0, "HAProxy accepted \(line)")
    #expect(ours.status != 0 && text.contains("bad.cfg:8") && text.contains(says), "\(line): \(text)")
}
