import Foundation
import TestSupport
import Testing

/// Cookie persistence (`cookie NAME insert indirect nocache httponly`, `server … cookie VALUE`) beside HAProxy 2.6 on
/// the same servers: the same requests reach the same servers, carrying the same `Cookie` headers (the persistence
/// cookie taken out with `indirect`), the clients get the same `Set-Cookie` and `Cache-control` fields (a server's
/// own cookie of that name taken out), and the lines show the same cookie characters (`NI`, `VN`, `II`, `DI`…).
@Suite("Cookie persistence beside HAProxy", .serialized)
struct CookiePersistenceInteropTests {
    @Test func sameServersSameHeadersSameLines() async throws {
        let dir = try TemporaryDirectory(prefix: "cookie")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let a = try await HTTPOrigin(name: "a", port: 0)
        let b = try await HTTPOrigin(name: "b", port: 0)
        let downRefusing = try RefusingPort()
        defer { downRefusing.close() }
        let down = downRefusing.port
        let scripted = try await ScriptedOrigin { path in
            switch path {
            case "/public":
                return ["HTTP/1.1 200 OK\r\nCache-Control: public\r\nContent-Length: 2\r\n\r\nok"]
            case "/private":
                return ["HTTP/1.1 200 OK\r\ncache-control: no-cache, private\r\nContent-Length: 2\r\n\r\nok"]
            case "/fresh":
                return ["HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n\r\nok"]
            case "/validated":
                return ["HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 2\r\n\r\nok"]
            default:
                return [
                    "HTTP/1.1 200 OK\r\nSet-Cookie: SRV=mine; path=/\r\nSet-Cookie: app=1\r\nContent-Length: 2\r\n\r\nok"
                ]
            }
        }
        // What each client sends, to which frontend (0: web, 1: scripted, 2: passive).
        let requests: [(Int, String, String)] = [
            (0, "GET", ""),
            (0, "GET", "Cookie: SERVERID=b\r\n"),
            (0, "GET", "Cookie: a=1; SERVERID=a; b=2\r\n"),
            (0, "GET", "Cookie: SERVERID=nobody\r\n"),
            (0, "GET", "Cookie: SERVERID=gone\r\n"),
            (0, "POST", "Cookie: x=1\r\nContent-Length: 0\r\n"),
            (0, "GET", "Cookie: SERVERID=\r\n"),
            (1, "GET", ""),
            (1, "GET", "Cookie: SRV=s1\r\n"),
            (1, "GET", ""),
            (1, "GET", ""),
            (1, "GET", ""),
            (1, "HEAD", ""),
            (2, "GET", "Cookie: JS=p1\r\n"),
            (2, "GET", ""),
        ]
        let paths = ["/", "/", "/", "/", "/", "/", "/", "/set", "/public", "/fresh", "/validated", "/private", "/fresh", "/", "/"]
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let ports = try Peers.freePorts(3)
            try """
                \(httpPreamble(logPort: logs.port))
                frontend web
                    bind 127.0.0.1:\(ports[0])
                    default_backend web
                frontend scripted
                    bind 127.0.0.1:\(ports[1])
                    default_backend scripted
                frontend passive
                    bind 127.0.0.1:\(ports[2])
                    default_backend passive
                backend web
                    balance roundrobin
                    cookie SERVERID insert indirect nocache httponly domain .example.com
                    server a 127.0.0.1:\(a.port) cookie a
                    server b 127.0.0.1:\(b.port) cookie b
                    server gone 127.0.0.1:\(down) cookie gone disabled
                backend scripted
                    cookie SRV insert secure nocache attr SameSite=Lax attr Partitioned
                    server s 127.0.0.1:\(scripted.port) cookie s1
                backend passive
                    cookie JS indirect
                    server p 127.0.0.1:\(a.port) cookie p1

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { ports.allSatisfy(Peers.isListening) }, "\(peer.output)")
            _ = await messages.take(waitingFor: 1, seconds: 0.3) { _ in false }
            var seen: [String] = []
            for ((front, method, headers), path) in zip(requests, paths) {
                let request = "\(method) \(path) HTTP/1.1\r\nHost: x\r\n\(headers)Connection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[front], Array(request.utf8)), as: UTF8.self)
                let head = answer.components(separatedBy: "\r\n\r\n").first ?? ""
                let fields = head.split(separator: "\r\n").dropFirst().filter {
                    let lower = $0.lowercased()
                    return lower.hasPrefix("set-cookie") || lower.hasPrefix("cache-control")
                }
                let body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined()
                let origin = front == 0 || front == 2 ? [a, b].first { body.contains("origin \($0.name)") } : nil
                let cookieSeen = origin?.lastHead?.headers["cookie"].joined(separator: " | ") ?? "-"
                seen.append("\(method) \(headers.debugDescription) -> \(body.debugDescription) \(fields) server saw cookie: \(cookieSeen)")
            }
            let lines = await messages.take(waitingFor: requests.count, seconds: 10) { $0.contains(" [") }
            // Sorted: under load a line may leave after the next request's.
            seen += lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
            results[who] = seen
        }
        let ours = results["proxy"] ?? []
        let theirs = results["haproxy"] ?? []
        #expect(ours.count == theirs.count)
        for (o, t) in zip(ours, theirs) { #expect(o == t) }
        #expect(ours.contains { $0.contains("SERVERID=a; path=/; domain=.example.com; HttpOnly") }, "\(ours)")
        // Each cookie state was met: none, valid, invalid, a stopped server's, and the server's own cookie replaced.
        for state in ["--NI", "--VN", "--II", "--DI"] {
            #expect(ours.contains { $0.contains(" \(state) ") }, "\(state): \(ours)")
        }
        #expect(ours.contains { $0.contains("server saw cookie: a=1; b=2") }, "\(ours)")
        #expect(ours.contains { $0.contains("set-cookie: app=1") && !$0.contains("SRV=mine") }, "\(ours)")
        try await a.close()
        try await b.close()
        try await scripted.close()
    }

    /// `ignore-persist if …` and `force-persist if …` beside HAProxy 2.6: an ignored cookie is `U` and the balance
    /// chooses (the cookie still taken out with `indirect`), and no `Set-Cookie` is inserted; a forced one reaches
    /// its server in maintenance; the backend's first rule that holds decides.
    @Test func ignoredAndForcedPersistenceAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "cookie-rules")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let a = try await HTTPOrigin(name: "a", port: 0)
        let b = try await HTTPOrigin(name: "b", port: 0)
        let requests: [(String, String)] = [
            ("/app", "Cookie: SRV=b\r\n"),
            ("/static/x", "Cookie: SRV=b; k=1\r\n"),
            ("/app", ""),
            ("/static/y", ""),
            ("/app", "Cookie: SRV=m\r\n"),
            ("/app", "Cookie: SRV=m\r\nX-Force: 1\r\n"),
            ("/static/z", "Cookie: SRV=m\r\nX-Force: 1\r\n"),
        ]
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            try """
                \(httpPreamble(logPort: logs.port))
                frontend web
                    bind 127.0.0.1:\(port)
                    default_backend web
                backend web
                    balance roundrobin
                    cookie SRV insert indirect
                    ignore-persist if { path_beg /static }
                    force-persist if { hdr(x-force) -m found }
                    server a 127.0.0.1:\(a.port) cookie a
                    server b 127.0.0.1:\(b.port) cookie b
                    server m 127.0.0.1:\(b.port) cookie m disabled

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            _ = await messages.take(waitingFor: 1, seconds: 0.3) { _ in false }
            var seen: [String] = []
            for (path, headers) in requests {
                let request = "GET \(path) HTTP/1.1\r\nHost: x\r\n\(headers)Connection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: port, Array(request.utf8)), as: UTF8.self)
                let head = answer.components(separatedBy: "\r\n\r\n").first ?? ""
                let cookies = head.split(separator: "\r\n").filter { $0.lowercased().hasPrefix("set-cookie") }
                let body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined()
                let origin = [a, b].first { body.contains("origin \($0.name)") }
                let cookieSeen = origin?.lastHead?.headers["cookie"].joined(separator: " | ") ?? "-"
                seen.append("\(path) \(headers.debugDescription) -> \(body.debugDescription) \(cookies) saw: \(cookieSeen)")
            }
            let lines = await messages.take(waitingFor: requests.count, seconds: 10) { $0.contains(" [") }
            seen += lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
            results[who] = seen
        }
        let ours = results["proxy"] ?? []
        let theirs = results["haproxy"] ?? []
        #expect(ours.count == theirs.count)
        for (o, t) in zip(ours, theirs) { #expect(o == t) }
        for state in ["--UN", "--VN", "--NI", "--DI"] {
            #expect(ours.contains { $0.contains(" \(state) ") }, "\(state): \(ours)")
        }
        try await a.close()
        try await b.close()
    }
}
