import Foundation
import TestSupport
import Testing

/// Health checks beyond a connect and HTTP, beside HAProxy 2.6 on the same servers: `option mysql-check` against
/// Debian's MariaDB (a user that exists, one that does not, a stopped node, a server that never answers),
/// `option redis-check` against line servers answering `+PONG` or an error, and `option tcp-check` rules (send,
/// send-binary, expect string/rstring/binary, a connect to another port, a negated expect). The same servers end
/// UP or DOWN with the same check status and code (`show stat`), and the DOWN lines are the same bytes (with
/// `option log-health-checks`, its `Health check for server …` lines too).
@Suite("Protocol health checks beside HAProxy", .serialized)
struct HealthCheckProtocolTests {
    @Test func sameVerdictsAndLinesAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "checks")
        let node = try MariaDBThroughProxyTests.Node(in: dir, name: "db", grants: true)
        defer { node.stop() }
        let mariadb = try Peers.find("mariadb")
        let made = try Peers.run(
            mariadb, ["-h", "127.0.0.1", "-P", "\(node.port)", "-u", "root", "-e", "CREATE USER 'haproxy'@'%'"])
        #expect(made.status == 0, "\(String(decoding: made.stderr, as: UTF8.self))")
        let pong = try await LineResponder(reply: "+PONG\r\n")
        let error = try await LineResponder(reply: "-ERR unknown command 'PING'\r\n")
        let silent = try StalledServer()
        defer { silent.stop() }
        let closedRefusing = try RefusingPort()
        defer { closedRefusing.close() }
        let closed = closedRefusing.port
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let haproxy = try Peers.find("haproxy")
        var lines: [String: [String]] = [:]
        var stats: [String: String] = [:]
        for who in ["haproxy", "proxy"] {
            // Each listener on a port of its own that was free (tests run side by side: no port arithmetic).
            // None of them the port that must refuse.
            let ports = try Peers.freePorts(7, avoiding: [closed])
            let base = ports[0]
            let socket = dir.file("\(who).sock")
            try """
                \(checkPreamble(logPort: logs.port, socket: socket))
                listen my
                    bind 127.0.0.1:\(base)
                    option mysql-check user haproxy
                    server ok 127.0.0.1:\(node.port)
                    server stopped 127.0.0.1:\(closed)
                    server silent 127.0.0.1:\(silent.port)
                listen my_denied
                    bind 127.0.0.1:\(ports[1])
                    option mysql-check user nobody
                    server denied 127.0.0.1:\(node.port)
                listen my_handshake
                    bind 127.0.0.1:\(ports[2])
                    option mysql-check
                    server hs 127.0.0.1:\(node.port)
                listen rd
                    bind 127.0.0.1:\(ports[3])
                    option redis-check
                    option log-health-checks
                    server pong 127.0.0.1:\(pong.port)
                    server err 127.0.0.1:\(error.port)
                    server closed 127.0.0.1:\(closed)
                listen tc
                    bind 127.0.0.1:\(ports[4])
                    option tcp-check
                    option log-health-checks
                    tcp-check send PING\\r\\n
                    tcp-check expect string +PONG
                    tcp-check send-binary 50494e470d0a comment again
                    tcp-check expect rstring ^\\+PO
                    server pong 127.0.0.1:\(pong.port)
                    server err 127.0.0.1:\(error.port)
                    server closed 127.0.0.1:\(closed)
                    server silent 127.0.0.1:\(silent.port)
                listen tc_port
                    bind 127.0.0.1:\(ports[5])
                    option tcp-check
                    tcp-check connect port \(pong.port)
                    tcp-check send PING\\r\\n
                    tcp-check expect binary 2b504f4e47
                    tcp-check expect ! string ERR
                    server via_port 127.0.0.1:\(closed)
                listen tc_port_closed
                    bind 127.0.0.1:\(ports[6])
                    option tcp-check
                    tcp-check connect port \(closed)
                    server nothing 127.0.0.1:\(pong.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"),
                (who == "haproxy" ? ["-db"] : []) + ["-f", dir.file("\(who).cfg")], logPath: dir.file("\(who).out"))
            defer { peer.stop() }
            // Ready once its runtime API's socket is there (both make it after binding their listeners). No
            // connection is made to see it: a probe through a frontend would open a session on one of the servers
            // whose DOWN lines count their active sessions ("1 sessions active", under load).
            #expect(Peers.waitUntil(seconds: 10) { access(socket, F_OK) == 0 })
            // Each server's first checks: a timeout takes the check's second.
            try await Task.sleep(for: .seconds(3))
            let stat = try RuntimeAPIInteropTests.socat(socket, "show stat\n")
            stats[who] = stat.split(separator: "\n").dropFirst().map { row in
                let f = row.split(separator: ",", omittingEmptySubsequences: false)
                // pxname, svname, status, check_status, check_code
                // "* " marks a check under way: whether one is at this instant is timing.
                let status = f.count > 36 ? f[36].replacingOccurrences(of: "* ", with: "") : ""
                return f.count > 37 ? "\(f[0]),\(f[1]),\(f[17]),\(status),\(f[37])" : String(row)
            }.filter { !$0.contains("FRONTEND") && !$0.contains("BACKEND") }.joined(separator: "\n")
            lines[who] = messages.take()
                .filter { $0.contains(" is DOWN") || $0.contains(" is UP") || $0.contains("Health check for ") }
                .map { $0.replacingOccurrences(of: #"check duration: \d+ms"#, with: "check duration: Nms", options: .regularExpression) }
                .sorted()
        }
        #expect(stats["proxy"] == stats["haproxy"])
        #expect(lines["proxy"] == lines["haproxy"])
        // What the seed's operator sees: the node UP with MariaDB's version, a stopped one DOWN with HAProxy's reason.
        #expect(stats["proxy"]?.contains("my,ok,UP,L7OK,0") == true, "\(stats)")
        #expect(
            lines["proxy"]?.contains {
                $0.contains("Server my/stopped is DOWN, reason: Layer4 connection problem, info: \"Connection refused\"")
            } == true)
        #expect(
            lines["proxy"]?.contains {
                $0.contains("Server my_denied/denied is DOWN, reason: Layer7 wrong status, code: 1045, info: \"#28000Access denied")
            } == true, "\(lines)")
    }
}

/// `option pgsql-check user NAME` beside HAProxy on a real PostgreSQL (Debian's 15, trust authentication): a role
/// it lets in (`PostgreSQL server is ok`), one its pg_hba.conf turns away (PostgreSQL's `FATAL`), a stopped server.
@Suite("pgsql-check beside HAProxy", .serialized)
struct PgsqlCheckTests {
    typealias Postgres = PostgresServer

    @Test func sameVerdictsAndLinesAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "pgsql-check")
        let pg = try Postgres(in: dir)
        defer { pg.stop() }
        #expect(try pg.sql("CREATE ROLE haproxy LOGIN") == 0)
        let closedRefusing = try RefusingPort()
        defer { closedRefusing.close() }
        let closed = closedRefusing.port
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let haproxy = try Peers.find("haproxy")
        var lines: [String: [String]] = [:]
        var stats: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let (a, b) = (try Peers.freePort(), try Peers.freePort())
            let socket = dir.file("\(who).sock")
            try """
                \(checkPreamble(logPort: logs.port, socket: socket))
                listen pg
                    bind 127.0.0.1:\(a)
                    option pgsql-check user haproxy
                    server ok 127.0.0.1:\(pg.port)
                    server stopped 127.0.0.1:\(closed)
                listen pg_denied
                    bind 127.0.0.1:\(b)
                    option pgsql-check user nobody
                    server denied 127.0.0.1:\(pg.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"),
                (who == "haproxy" ? ["-db"] : []) + ["-f", dir.file("\(who).cfg")], logPath: dir.file("\(who).out"))
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: a) && access(socket, F_OK) == 0 })
            try await Task.sleep(for: .seconds(2))
            stats[who] = try serverChecks(socket)
            lines[who] = serverLines(messages)
        }
        #expect(stats["proxy"] == stats["haproxy"])
        #expect(lines["proxy"] == lines["haproxy"])
        #expect(stats["proxy"]?.contains("pg,ok,UP,L7OK,0") == true, "\(stats)")
        #expect(lines["proxy"]?.contains { $0.contains("pg_denied/denied is DOWN, reason: Layer7 invalid response, info: \"FATAL\"") } == true, "\(lines)")
    }
}

/// `option ssl-hello-chk` beside HAProxy: a TLS server (openssl s_server) passes at Layer 6, an HTTP server is a
/// Layer 6 invalid response, one that accepts and never answers a Layer 6 timeout, a closed port a Layer 4 problem;
/// the same server lines and stats statuses as HAProxy's.
@Suite("ssl-hello-chk beside HAProxy", .serialized)
struct SSLHelloCheckTests {
    @Test func sameVerdictsAndLinesAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "ssl-hello-chk")
        let tlsPort = try Peers.freePort()
        let tls = try RunningPeer(
            try Peers.find("openssl"), ["s_server", "-nocert", "-accept", "\(tlsPort)", "-quiet"], logPath: dir.file("tls.out"))
        defer { tls.stop() }
        #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: tlsPort) })
        let web = try await LoopbackHTTPResponder()
        let closedRefusing = try RefusingPort()
        defer { closedRefusing.close() }
        // Listening, never accepting: the connection is made by the kernel, the hello never answered.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        // A backlog that never fills: every check's connection is made (the SYN queue of a short one would drop
        // later checks' connects, a Layer 4 timeout instead of the Layer 6 one).
        listen(silent, 4096)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(silent, $0, &length) } }
        let silentPort = Int(UInt16(bigEndian: bound.sin_port))
        defer { close(silent) }
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        var lines: [String: [String]] = [:]
        var stats: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            let socket = dir.file("\(who).sock")
            try """
                \(checkPreamble(logPort: logs.port, socket: socket))
                listen tls
                    bind 127.0.0.1:\(port)
                    option ssl-hello-chk
                    server tls 127.0.0.1:\(tlsPort)
                    server http 127.0.0.1:\(web.port)
                    server silent 127.0.0.1:\(silentPort)
                    server closed 127.0.0.1:\(closedRefusing.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) && access(socket, F_OK) == 0 }, "\(peer.output)")
            try await Task.sleep(for: .seconds(2))
            stats[who] = try serverChecks(socket).sorted()
            // How many servers are still active when each goes DOWN depends on the order the checks end in.
            lines[who] = serverLines(messages).map {
                $0.replacingOccurrences(of: #"\d+ active"#, with: "N active", options: .regularExpression)
            }.sorted()
        }
        #expect(stats["proxy"] == stats["haproxy"], "\(stats)")
        #expect(lines["proxy"] == lines["haproxy"], "\(lines)")
        #expect(stats["proxy"]?.contains("tls,tls,UP,L6OK,") == true, "\(stats)")
        #expect(stats["proxy"]?.contains("tls,http,DOWN,L6RSP,") == true, "\(stats)")
        #expect(stats["proxy"]?.contains("tls,silent,DOWN,L6TOUT,") == true, "\(stats)")
        try await web.close()
    }
}

/// `http-check send` (HAProxy 2.2's form of the check request) beside HAProxy: the requests its servers receive are
/// the same bytes: request-line parts that replace `option httpchk`'s, its headers in place of the ones hidden after
/// the version, a body with its `content-length`, `connection: close` for HTTP/1.1 only, and rules from `defaults`
/// that a backend's own replace.
@Suite("http-check send beside HAProxy", .serialized)
struct HTTPCheckSendTests {
    @Test func theServersReceiveTheSameRequests() async throws {
        let dir = try TemporaryDirectory(prefix: "http-check-send")
        var seen: [String: [[UInt8]]] = [:]
        for who in ["haproxy", "proxy"] {
            // Each backend's check, as `http-check send` or `option httpchk` write it (nil: from defaults only).
            let sends: [String?] = [
                "http-check send meth GET uri /ping ver HTTP/1.1 hdr Host app.local hdr X-Two \"a b\"\n    http-check expect rstring ^pong",
                "option httpchk HEAD /x HTTP/1.1\\r\\nHost:\\ www\n    http-check send hdr Accept text/plain hdr Content-Length 99 body \"hello\" comment \"a body\"",
                "http-check send meth POST uri /_up",
                nil,
                "http-check send ver HTTP/1.1 hdr Host e hdr Connection keep-alive",
                "option httpchk GET /own",
                "http-check send hdr X-Own yes\n    option httpchk PUT /after",
                "option httpchk HEAD /x HTTP/1.1\\r\\nHost:\\ www\\r\\nConnection:\\ keep-alive",
                "option httpchk\n    http-check send meth GET ver HTTP/1.0 hdr Connection keep-alive",
                "option httpchk\n    http-check send meth GET ver HTTP/1.1 hdr Connection close hdr Host x",
                "option httpchk\n    http-check send meth GET ver HTTP/2.0 body abc",
                "option httpchk\n    http-check send meth PATCH",
                "option httpchk\n    http-check send meth DELETE uri /?q=1",
            ]
            var recorders: [RequestRecorder] = []
            for _ in sends { recorders.append(try await RequestRecorder()) }
            let port = try Peers.freePort()
            var text = """
                defaults
                    mode http
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                    option httpchk GET /from-defaults
                    http-check send hdr X-From defaults
                    default-server check inter 300ms
                frontend f
                    bind 127.0.0.1:\(port)
                    default_backend b0

                """
            for (n, send) in sends.enumerated() {
                text += "backend b\(n)\n" + (send.map { "    \($0)\n" } ?? "")
                text += "    server s 127.0.0.1:\(recorders[n].port)\n"
            }
            try text.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            #expect(
                Peers.waitUntil(seconds: 15) { recorders.allSatisfy { !$0.requests.isEmpty } }, "\(peer.output)")
            peer.stop()
            seen[who] = recorders.map { $0.requests.first ?? [] }
            for r in recorders { try await r.close() }
        }
        let ours = try #require(seen["proxy"])
        let theirs = try #require(seen["haproxy"])
        for (n, (a, b)) in zip(ours, theirs).enumerated() {
            #expect(
                a == b,
                "backend \(n): proxy sent \(String(decoding: a, as: UTF8.self).debugDescription), HAProxy \(String(decoding: b, as: UTF8.self).debugDescription)"
            )
        }
        #expect(String(decoding: ours[0], as: UTF8.self).hasPrefix("GET /ping HTTP/1.1\r\nhost: app.local\r\n"))
    }
}

/// The `global` and `defaults` of a health-check comparison: lines to the test's receiver, a runtime API socket,
/// TCP mode, checks every 400 ms that decide at once.
func checkPreamble(logPort: Int, socket: String) -> String {
    """
    global
        log 127.0.0.1:\(logPort) local0 info
        stats socket \(socket) level admin
    defaults
        log global
        mode tcp
        timeout connect 1s
        timeout client 5s
        timeout server 5s
        timeout check 1s
        default-server check inter 400ms rise 1 fall 1
    """
}

/// Each server's `pxname,svname,status,check_status,check_code` from `show stat` (a `* ` marking a check under
/// way left out: whether one is at that instant is timing).
func serverChecks(_ socket: String) throws -> [String] {
    try RuntimeAPIInteropTests.socat(socket, "show stat\n").split(separator: "\n").compactMap { row in
        let f = row.split(separator: ",", omittingEmptySubsequences: false)
        guard f.count > 37, f[1] != "FRONTEND", f[1] != "BACKEND", !row.hasPrefix("#") else { return nil }
        return "\(f[0]),\(f[1]),\(f[17]),\(f[36].replacingOccurrences(of: "* ", with: "")),\(f[37])"
    }
}

/// The servers' UP and DOWN lines received so far, their check durations written `Nms`, sorted.
func serverLines(_ messages: RuntimeAPIInteropTests.Messages) -> [String] {
    messages.take().filter { $0.contains(" is DOWN") || $0.contains(" is UP") }.map {
        $0.replacingOccurrences(of: #"check duration: \d+ms"#, with: "check duration: Nms", options: .regularExpression)
    }.sorted()
}
