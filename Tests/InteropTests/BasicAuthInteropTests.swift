import Foundation
import TestSupport
import Testing

/// `userlist` sections (a SHA-512 crypt `password` made by `openssl passwd -6`, `insecure-password`, groups given
/// both ways), `http-request auth [realm …]`, `http_auth(LIST)` and `http_auth_group(LIST) GROUP` beside HAProxy
/// 2.6, with curl's credentials and raw requests: the same answers byte for byte (HAProxy's 401 with its
/// challenge, kept alive or closed), the same denials, the same lines.
@Suite("Basic authentication on userlists beside HAProxy", .serialized)
struct BasicAuthInteropTests {
    @Test func sameChallengesAnswersAndLines() async throws {
        let dir = try TemporaryDirectory(prefix: "basic-auth")
        let nginx = try Nginx(in: dir)
        defer { nginx.stop() }
        let openssl = try Peers.find("openssl")
        let hashed = try Peers.run(openssl, ["passwd", "-6", "wonderland"])
        let hash = String(decoding: hashed.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hash.hasPrefix("$6$"))
        let curl = try Peers.find("curl")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        var audited: [String] = []
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            userlist console_users
                group admins users alice
                group viewers
                user alice password \(hash)
                user bob insecure-password readonly1 groups viewers
            frontend console
                bind 127.0.0.1:\(ports[0])
                acl is_write method POST PUT DELETE
                http-request auth realm Console unless { http_auth(console_users) }
                http-request deny if is_write !{ http_auth_group(console_users) admins }
                default_backend web
            frontend open
                bind 127.0.0.1:\(ports[1])
                http-request auth if { path_beg /private } !{ http_auth(console_users) }
                default_backend web
            backend web
                server n 127.0.0.1:\(nginx.port)

            """
        } _: { side, ports in
            var seen: [String] = []
            for (port, method, path, user) in [
                (ports[0], "GET", "/", nil), (ports[0], "GET", "/", "alice:wonderland"), (ports[0], "GET", "/", "alice:wrong"),
                (ports[0], "GET", "/", "bob:readonly1"), (ports[0], "POST", "/post", "bob:readonly1"),
                (ports[0], "POST", "/post", "alice:wonderland"), (ports[0], "GET", "/", "nobody:x"),
                (ports[1], "GET", "/private/a", nil), (ports[1], "GET", "/public", nil),
                (ports[1], "GET", "/private/a", "bob:readonly1"),
            ] {
                let run = try Peers.run(
                    curl,
                    ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "--max-time", "5",
                     "http://127.0.0.1:\(port)\(path)"] + (user.map { ["-u", $0] } ?? []))
                seen.append("\(port == ports[0] ? "console" : "open") \(method) \(path) \(user ?? "-"): "
                    + String(decoding: run.stdout, as: UTF8.self))
            }
            // The challenge itself, byte for byte: kept alive (then a request on the same connection), and closed.
            let keptAlive = try Peers.exchange(
                port: ports[0],
                Array("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            seen.append(String(decoding: keptAlive, as: UTF8.self))
            let closed = try Peers.exchange(port: ports[1], Array("GET /private HTTP/1.0\r\n\r\n".utf8))
            seen.append(String(decoding: closed, as: UTF8.self))
            let lines = await messages.take(waitingFor: 13, seconds: 10) { $0.contains(" [") }
            if side == "proxy" { audited = lines.filter { $0.contains("login refused") } }
            return seen + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("console GET / alice:wonderland: 200") && ours.contains("console POST /post bob:readonly1: 403"))
        #expect(ours.contains { $0.contains("www-authenticate: Basic realm=\"Console\"") }, "\(ours)")
        // The refused logins in the proxy's audit trail (alice's wrong password, an unknown user), as the stats
        // page's: who, from where, on which proxy.
        #expect(
            audited.contains { $0.hasSuffix("audit: http login refused user=alice client=127.0.0.1 proxy=console realm=Console") }
                && audited.contains { $0.contains("user=nobody") } && audited.count == 2, "\(audited)")
    }

    /// The stats page guarded as real configurations guard it (corpus 20): `stats http-request deny unless LAN`,
    /// `stats http-request auth unless { http_auth(L) }`, `stats admin if` a group, and a frontend `http-request
    /// deny` that the page does not escape (it is checked after the section's rules, as in HAProxy).
    @Test func statsPageRulesAnswerAsHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "stats-rules")
        let curl = try Peers.find("curl")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 4, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            userlist stats-users
                group ops users alice
                user alice insecure-password wonderland
                user bob insecure-password readonly1
            listen stats
                bind 127.0.0.1:\(ports[0])
                acl from_lan src 127.0.0.0/8
                acl AUTH http_auth(stats-users)
                acl AUTH_ADMIN http_auth_group(stats-users) ops
                stats enable
                stats uri /
                stats http-request deny unless from_lan
                stats http-request auth unless AUTH
                stats admin if AUTH_ADMIN
            listen faraway
                bind 127.0.0.1:\(ports[1])
                stats enable
                stats uri /stats
                stats http-request deny if { src 127.0.0.1 }
                stats http-request allow
            listen locked
                bind 127.0.0.1:\(ports[2])
                stats enable
                stats uri /stats
                http-request deny if { path_beg /stats }
            listen classic
                bind 127.0.0.1:\(ports[3])
                stats enable
                stats uri /stats
                stats auth admin:admin
                stats realm Ops

            """
        } _: { _, ports in
            var seen: [String] = []
            for (port, path, user) in [
                (ports[0], "/", nil), (ports[0], "/", "bob:readonly1"), (ports[0], "/", "bob:wrong"),
                (ports[0], "/;csv", "alice:wonderland"), (ports[1], "/stats", nil), (ports[2], "/stats", nil),
                (ports[3], "/stats", nil), (ports[3], "/stats", "admin:wrong"), (ports[3], "/stats;csv", "admin:admin"),
            ] {
                let run = try Peers.run(
                    curl,
                    ["-s", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", "--max-time", "5",
                     "http://127.0.0.1:\(port)\(path)"] + (user.map { ["-u", $0] } ?? []))
                let out = String(decoding: run.stdout, as: UTF8.self)
                let challenge = out.split(separator: "\r\n").first { $0.lowercased().hasPrefix("www-authenticate") }
                let name = ["stats", "faraway", "locked", "classic"][ports.firstIndex(of: port) ?? 0]
                seen.append("\(name) \(path) \(user ?? "-"): \(out.suffix(3)) \(challenge ?? "")")
            }
            let lines = await messages.take(waitingFor: 9, seconds: 10) { $0.contains(" [") }
            // The pages themselves differ in size (HAProxy's HTML and CSV carry more fields): their bytes blanked.
            return seen
                + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).map { line in
                    var words = line.split(separator: " ").map(String.init)
                    if words.count > 7, words[6] == "200" { words[7] = "B" }
                    return words.joined(separator: " ")
                }.sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.first?.contains("401 www-authenticate: Basic realm=\"HAProxy Statistics\"") == true, "\(ours)")
        #expect(ours.prefix(6).suffix(2).allSatisfy { $0.contains(": 403") }, "\(ours)")
    }
}
