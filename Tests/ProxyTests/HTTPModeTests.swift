import Foundation
import HAProxyLog
import NIOCore
import NIOPosix
import TestSupport
import Testing

@testable import Proxy

/// `mode http` through the proxy in this process, against NIO origins on loopback: relaying, keep-alive and
/// server-side reuse, pipelining, bodies, the proxy's own answers (each with HAProxy's status, termination state
/// and log fields), and the stats page.
@Suite("HTTP mode, httplog and the stats page", .serialized)
struct HTTPModeTests {
    static func config(proxyPort: Int, statsPort: Int, logPort: Int, servers: [String], extra: String = "") -> String {
        """
        global
            log 127.0.0.1:\(logPort) local0 info
        defaults
            log global
            mode http
            option httplog
            retries 1
            timeout connect 1s
            timeout client 5s
            timeout server 2s
            timeout http-request 1s
        frontend fe
            bind 127.0.0.1:\(proxyPort)
            default_backend be
        backend be
            balance roundrobin
        \(servers.map { "    server " + $0 }.joined(separator: "\n"))
        \(extra)
        listen admin_stats
            bind 127.0.0.1:\(statsPort)
            stats uri /admin-status
            stats auth admin:admin
            stats refresh 5s
        """
    }

    struct Setup {
        let proxy: ProxyRuntime
        let logs: LoopbackUDPReceiver
        let port: Int
        let statsPort: Int
        let origins: [HTTPOrigin]
    }

    func start(origins count: Int = 2, extraServers: [String] = [], extra: String = "") async throws -> Setup {
        var origins: [HTTPOrigin] = []
        for i in 0..<count { origins.append(try await HTTPOrigin(name: "s\(i + 1)")) }
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        let statsPort = try Peers.freePort()
        let servers = origins.map { "\($0.name) 127.0.0.1:\($0.port)" } + extraServers
        let c = try HAProxyConfigParser.parse(
            text: Self.config(proxyPort: port, statsPort: statsPort, logPort: logs.port, servers: servers, extra: extra)
        )
        let proxy = try ProxyRuntime(configuration: c, threads: 1)
        _ = try await proxy.start()
        return Setup(proxy: proxy, logs: logs, port: port, statsPort: statsPort, origins: origins)
    }

    func stop(_ s: Setup) async throws {
        try await s.proxy.stop()
        for o in s.origins { try await o.close() }
        try await s.logs.close()
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func keepAliveRequestsAreBalancedRelayedAndLoggedEach() async throws {
        let s = try await start()
        let request = "GET /a HTTP/1.1\r\nHost: t\r\nX-Mixed-Case: V\r\n\r\n"
        // Two requests pipelined in one write, then the client half-closes: both are answered, in order.
        let answer = text(
            try await blocking { [port = s.port] in
                try Peers.exchange(port: port, Array((request + request).utf8), halfClose: true)
            })
        let responses = answer.components(separatedBy: "HTTP/1.1 200 OK\r\n").dropFirst()
        #expect(responses.count == 2)
        #expect(answer.contains("origin s1\n") && answer.contains("origin s2\n"))
        // HAProxy's forms: lower-case names, the server's Connection header dropped (a client that only shut its
        // side is not told the connection closes).
        #expect(answer.contains("content-length: 10\r\n"))
        #expect(!answer.contains("onnection:"))
        #expect(s.origins[0].lastHead?.headers["x-mixed-case"].first == "V")
        for expected in ["s1", "s2"] {
            let line = try #require(await s.logs.nextTraffic()?.line)
            #expect(line.mode == .http && line.frontend == "fe" && line.backend == "be" && line.server == expected)
            #expect(line.status == 200 && line.terminationState.description == "----")
            #expect(line.requestLine == "GET /a HTTP/1.1")
            #expect(line.requestTime >= 0 && line.queueTime == 0 && line.connectTime >= 0 && line.responseTime >= 0)
            // HAProxy's count: 21 + "HTTP/1.1" + "200" + "OK" + names and values + body.
            let counted = 21 + 8 + 3 + 2 + ("content-type" + "text/plain" + "content-length" + "10").count + 10
            #expect(line.bytesRead == Int64(counted))
        }
        try await stop(s)
    }

    /// Idle server connections are kept for later requests (five client connections, one server connection),
    /// unless `option http-server-close` (one each) or `option httpclose`.
    @Test(arguments: ["", "option http-server-close", "option httpclose"])
    func serverConnectionsAreReusedAcrossRequests(option: String) async throws {
        let s = try await start(origins: 1, extra: option)
        for _ in 0..<5 {
            let answer = text(
                try await blocking { [port = s.port] in
                    try Peers.exchange(port: port, Array("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".utf8))
                })
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
            _ = try #require(await s.logs.nextTraffic())
        }
        #expect(s.origins[0].connections == (option.isEmpty ? 1 : 5))
        try await stop(s)
    }

    /// Many clients at once, each asking in turn on one keep-alive connection: the writes and log lines of a
    /// wake-up leave together (`FlushBatch`, `LogBatch`), and none is lost, late or given to another client.
    @Test func concurrentKeepAliveClientsEachGetTheirOwnAnswers() async throws {
        let s = try await start()
        let clients = 12
        let requests = 30
        let answers = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in 0..<clients {
                group.addTask { [port = s.port] in
                    try await blocking {
                        let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 10)
                        defer { close(fd) }
                        var got: [String] = []
                        for i in 0..<requests {
                            // A body of a length no other request has: the answer names it.
                            let body = String(repeating: "b", count: 1 + client * requests + i)
                            let last = i == requests - 1 ? "Connection: close\r\n" : ""
                            let request =
                                "POST /echo HTTP/1.1\r\nHost: t\r\n\(last)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
                            _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                            got.append(Self.readResponse(fd))
                        }
                        return got
                    }
                }
            }
            var all: [[String]] = []
            for try await answers in group { all.append(answers) }
            return all
        }
        #expect(answers.count == clients)
        var expected = Set<String>()
        for client in 0..<clients {
            for i in 0..<requests { expected.insert("got \(1 + client * requests + i) bytes\n") }
        }
        let bodies = answers.flatMap { $0 }
        #expect(bodies.count == clients * requests && Set(bodies) == expected)
        for answers in answers {
            // In order on each connection: the lengths one client sent grow by one.
            let lengths = answers.compactMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
            #expect(lengths.count == requests && zip(lengths, lengths.dropFirst()).allSatisfy { $1 == $0 + 1 })
        }
        var logged = 0
        for _ in 0..<(clients * requests) {
            let line = try #require(await s.logs.nextTraffic()?.line)
            #expect(line.status == 200 && line.terminationState.description == "----")
            logged += 1
        }
        #expect(logged == clients * requests)
        try await stop(s)
    }

    /// One response read from `fd`: its head, then the body its `content-length` gives (the body is returned).
    static func readResponse(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var bodyStart: Int?
        var length = 0
        while true {
            if bodyStart == nil, let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) {
                bodyStart = end.upperBound
                let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).lowercased()
                if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }) {
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let start = bodyStart, bytes.count >= start + length {
                return String(decoding: bytes[start..<(start + length)], as: UTF8.self)
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return "(closed after \(bytes.count) bytes)" }
            bytes.append(contentsOf: buffer[..<n])
        }
    }

    @Test func bodiesStreamBothWaysInEitherFraming() async throws {
        let s = try await start(origins: 1)
        let big = String(repeating: "x", count: 200_000)
        let sized = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(big.utf8.count)\r\n\r\n\(big)"
        let chunked =
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"
        let get = "GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n"
        let answer = text(
            try await blocking { [port = s.port] in
                try Peers.exchangeStreaming(port: port, Array((sized + chunked + get).utf8))
            })
        #expect(answer.contains("got 200000 bytes\n"))
        #expect(answer.contains("got 8 bytes\n"))
        // Chunks re-framed as HAProxy frames them (upper-case hex sizes).
        #expect(
            answer.contains(
                "transfer-encoding: chunked\r\n\r\n4\r\none \r\n4\r\ntwo \r\n6\r\nthree\n\r\n0\r\n\r\n"
            ))
        for _ in 0..<3 { #expect(try #require(await s.logs.nextTraffic()?.line).status == 200) }
        try await stop(s)
    }

    /// Each kind of request the proxy answers itself: the status sent, the termination state and the log's fields
    /// as HAProxy 2.6 logs them (captured from it for the same requests).
    @Test(arguments: [
        ("GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n", 400, "PR--", "fe/<NOSRV>", "-1/-1/-1/-1", "<BADREQ>"),
        ("HELLO\r\n\r\n", 400, "PR--", "fe/<NOSRV>", "-1/-1/-1/-1", "<BADREQ>"),
        ("GET / HTTP/1.1\r\nHost: t\r\nNoColonHere\r\n\r\n", 400, "PR--", "fe/<NOSRV>", "-1/-1/-1/-1", "<BADREQ>"),
        // Two hosts in one request would walk past the Host ACLs: HAProxy's HTTP/1 parser refuses both forms.
        ("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", 400, "PR--", "fe/<NOSRV>", "-1/-1/-1/-1", "<BADREQ>"),
        ("GET http://b.example/admin HTTP/1.1\r\nHost: a.example\r\n\r\n", 400, "PR--", "fe/<NOSRV>", "-1/-1/-1/-1", "<BADREQ>"),
        (
            "GET /\(String(repeating: "u", count: 17_000)) HTTP/1.1\r\n\r\n", 414, "PR--", "fe/<NOSRV>", "-1/-1/-1/-1",
            "<BADREQ>"
        ),
        (
            "GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 17_000))\r\n\r\n", 431, "PR--", "fe/<NOSRV>",
            "-1/-1/-1/-1", "<BADREQ>"
        ),
        ("GET /drop HTTP/1.1\r\nHost: t\r\n\r\n", 502, "SH--", "be/s1", "T/0/T/-1", "GET /drop HTTP/1.1"),
        ("GET /hang HTTP/1.1\r\nHost: t\r\n\r\n", 504, "sH--", "be/s1", "T/0/T/-1", "GET /hang HTTP/1.1"),
    ])
    func theProxysOwnAnswers(
        request: String, status: Int, termination: String, route: String, timers: String, requestLine: String
    ) async throws {
        let s = try await start(origins: 1)
        let answer = text(try await blocking { [port = s.port] in try Peers.exchange(port: port, Array(request.utf8)) })
        #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(answer.prefix(80))")
        let logged = try #require(await s.logs.nextTraffic())
        let line = try #require(logged.line)
        #expect(line.status == status)
        #expect(line.terminationState.description == termination)
        #expect("\(line.backend)/\(line.server)" == route)
        let shown = [line.requestTime, line.queueTime, line.connectTime, line.responseTime].map {
            $0 == -1 ? "-1" : $0 == 0 ? "0" : "T"
        }
        let expected = timers.split(separator: "/").map { $0 == "T" ? ["0", "T"] : [String($0)] }
        #expect(zip(shown, expected).allSatisfy { $1.contains($0) }, "\(logged.datagram)")
        #expect(line.requestLine == requestLine)
        // The parser's refusals are logged with 0 bytes (HAProxy's count); the stream's with its own count.
        if termination == "PR--" { #expect(line.bytesRead == 0) }
        try await stop(s)
    }

    /// What review found: a body in the same read as its head is not counted as head (no false 431); an upgrade
    /// is refused (501) and the connection closed; a partial head then the client's end is answered and logged
    /// once.
    @Test func headsBodiesUpgradesAndEndsOfInput() async throws {
        let s = try await start(origins: 1)
        let body = String(repeating: "p", count: 40_000)
        let post = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        var answer = text(
            try await blocking { [port = s.port] in
                try Peers.exchange(port: port, Array((post + post).utf8), halfClose: true)
            })
        #expect(answer.components(separatedBy: "got 40000 bytes").count == 3, "\(answer.prefix(200))")
        for _ in 0..<2 { #expect(try #require(await s.logs.nextTraffic()?.line).status == 200) }
        answer = text(
            try await blocking { [port = s.port] in
                try Peers.exchange(
                    port: port,
                    Array("GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nxxxx".utf8))
            })
        #expect(answer.hasPrefix("HTTP/1.1 501 Not Implemented\r\n"))
        var line = try #require(await s.logs.nextTraffic()?.line)
        #expect(line.status == 501 && line.terminationState.description == "PR--")
        answer = text(
            try await blocking { [port = s.port] in
                try Peers.exchange(port: port, Array("GET / HT".utf8), halfClose: true)
            })
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad request\r\n"))
        line = try #require(await s.logs.nextTraffic()?.line)
        #expect(line.status == 400)
        // Then the next line is the next request's, not a second one for the same connection.
        _ = try await blocking { [port = s.port] in
            try Peers.exchange(port: port, Array("GET /next HTTP/1.1\r\nHost: t\r\n\r\n".utf8), halfClose: true)
        }
        line = try #require(await s.logs.nextTraffic()?.line)
        #expect(line.requestLine == "GET /next HTTP/1.1")
        try await stop(s)
    }

    @Test func clientsThatStopEarlyAreLoggedAsHAProxyLogsThem() async throws {
        let s = try await start(origins: 1)
        // Connects and closes without a byte: `CR--`, 400 that could not be sent.
        let fd = try Peers.connectLoopback(port: s.port, timeoutSeconds: 5)
        close(fd)
        var line = try #require(await s.logs.nextTraffic()?.line)
        #expect(line.status == 400 && line.terminationState.description == "CR--" && line.requestLine == "<BADREQ>")
        // Half a request then nothing: `timeout http-request` (1 s) answers 408, `cR--`.
        let answer = text(
            try await blocking { [port = s.port] in
                try Peers.exchange(port: port, Array("GET / HTTP/1.1\r\nHost".utf8))
            })
        #expect(answer.hasPrefix("HTTP/1.1 408 Request Time-out\r\n"))
        line = try #require(await s.logs.nextTraffic()?.line)
        #expect(line.status == 408 && line.terminationState.description == "cR--" && line.totalTime >= 900)
        try await stop(s)
    }

    @Test func noServerIs503SC() async throws {
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        let s = try await start(origins: 0, extraServers: ["dead 127.0.0.1:\(dead)"])
        let answer = text(
            try await blocking { [port = s.port] in
                try Peers.exchange(port: port, Array("GET / HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
            })
        #expect(answer.hasPrefix("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\n"))
        let line = try #require(await s.logs.nextTraffic()?.line)
        #expect(line.status == 503 && line.terminationState.description == "SC--" && line.server == "dead")
        #expect(line.retries == 1 && line.connectTime == -1 && line.bytesRead == 217)
        try await stop(s)
    }

    @Test func theStatsPageAsksForCredentialsAndAuditsLogins() async throws {
        let s = try await start(origins: 1)
        func get(_ path: String, auth: String?) async throws -> String {
            let header = auth.map { "Authorization: Basic \(Data($0.utf8).base64EncodedString())\r\n" } ?? ""
            let request = "GET \(path) HTTP/1.1\r\nHost: t\r\n\(header)Connection: close\r\n\r\n"
            return text(
                try await blocking { [port = s.statsPort] in try Peers.exchange(port: port, Array(request.utf8)) })
        }
        let anonymous = try await get("/admin-status", auth: nil)
        #expect(anonymous.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        #expect(anonymous.contains("www-authenticate: Basic realm=\"HAProxy Statistics\"\r\n"))
        var line = try #require(await s.logs.nextTraffic()?.line)
        #expect("\(line.frontend) \(line.backend)/\(line.server)" == "admin_stats admin_stats/<STATS>")
        // Logged as HAProxy 2.6 logs a refused stats login: 400 (its stats applet answers the request too).
        #expect(line.status == 400 && line.terminationState.description == "LR--")

        let wrong = try await get("/admin-status", auth: "admin:nope")
        #expect(wrong.hasPrefix("HTTP/1.1 401 "))
        let refused = try #require(await s.logs.nextMessage(startingWith: "audit: "))
        #expect(refused.contains("audit: stats login refused user=admin client=127.0.0.1 proxy=admin_stats"))
        #expect(refused.hasPrefix("<133>"))

        let page = try await get("/admin-status", auth: "admin:admin")
        #expect(page.hasPrefix("HTTP/1.1 200 OK\r\n") && page.contains("refresh: 5\r\n"))
        #expect(page.contains("<section class=\"px\"><h2>be<span>mode http"))
        let granted = try #require(await s.logs.nextMessage(startingWith: "audit: "))
        #expect(granted.contains("audit: stats login granted user=admin client=127.0.0.1 proxy=admin_stats"))
        line = try #require(await s.logs.nextTraffic()?.line)
        #expect(line.status == 200 && line.requestLine == "GET /admin-status HTTP/1.1")

        // The CSV: HAProxy 2.6's columns in its order; one row per frontend, server and backend.
        let csv = try await get("/admin-status;csv;norefresh", auth: "admin:admin")
        let body = try #require(csv.components(separatedBy: "\r\n\r\n").last)
        let rows = body.split(separator: "\n").map(String.init)
        #expect(
            rows.first?.hasPrefix("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,")
                == true)
        #expect(rows.first?.contains(",check_status,check_code,check_duration,hrsp_1xx,") == true)
        #expect(rows.allSatisfy { $0.hasSuffix(",") })
        #expect(
            rows.map { $0.split(separator: ",", omittingEmptySubsequences: false).count }.allSatisfy {
                $0 == StatsCSV.columns.count + 1
            })
        #expect(rows.contains { $0.hasPrefix("be,s1,") } && rows.contains { $0.hasPrefix("be,BACKEND,") })
        #expect(rows.contains { $0.hasPrefix("fe,FRONTEND,") })

        // Prometheus, haproxy_exporter's names.
        let metrics = try await get("/metrics", auth: "admin:admin")
        #expect(metrics.contains("haproxy_server_up{backend=\"be\",server=\"s1\"} 1"))
        #expect(metrics.contains("haproxy_frontend_http_requests_total{frontend=\"fe\"}"))
        try await stop(s)
    }

    /// The server side reads responses itself: heads and bodies split across reads, interim responses, chunk
    /// extensions and trailers, a response to HEAD, a body ended by the close, a broken head (`PH`), and a server that
    /// sends more than its response (its connection is not used again).
    @Test func responsesAreReadHoweverServersSendThem() async throws {
        let origin = try await ScriptedOrigin { path in
            switch path {
            case "/split": return ["HTTP/1.1 200 OK\r\nContent-Le", "ngth: 5\r\n\r", "\nhel", "lo"]
            case "/interim":
                return ["HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
            case "/chunks":
                return [
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "3;x=y\r\nabc\r", "\n0\r\nT: v\r\n\r\n",
                ]
            case "/head": return ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"]
            case "/eof": return ["HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil ", "the close", ScriptedOrigin.close]
            case "/bad": return ["HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"]
            case "/extra": return ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK"]
            case "/stall": return ["HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"]
            default: return ["HTTP/1.1 200 Fine\r\nContent-Length: 4\r\n\r\nnext"]
            }
        }
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        let c = try HAProxyConfigParser.parse(
            text: Self.config(
                proxyPort: port, statsPort: try Peers.freePort(), logPort: logs.port,
                servers: ["s1 127.0.0.1:\(origin.port)"]))
        let proxy = try ProxyRuntime(configuration: c, threads: 1)
        _ = try await proxy.start()
        func ask(_ requests: String...) async throws -> String {
            let bytes = Array(requests.joined().utf8)
            return text(try await blocking { try Peers.exchange(port: port, bytes, halfClose: true) })
        }
        func get(_ path: String, method: String = "GET") -> String { "\(method) \(path) HTTP/1.1\r\nHost: t\r\n\r\n" }

        var answer = try await ask(get("/split"))
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"), "\(answer)")
        var line = try #require(await logs.nextTraffic()?.line)
        #expect(line.status == 200 && line.terminationState.description == "----")
        // HAProxy's count: 21 + "HTTP/1.1" + "200" + "OK" + "content-length" + "5" + the body.
        let counted: Int64 = 21 + 8 + 3 + 2 + 14 + 1 + 5
        #expect(line.bytesRead == counted)

        answer = try await ask(get("/interim"))
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n") && answer.hasSuffix("\r\n\r\nok") && !answer.contains("103"))
        _ = try #require(await logs.nextTraffic())

        answer = try await ask(get("/chunks"))
        #expect(answer.hasSuffix("transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "\(answer)")
        _ = try #require(await logs.nextTraffic())

        // HEAD then GET on one connection: the first response has no body, so the second is read right.
        answer = try await ask(get("/head", method: "HEAD"), get("/next"))
        #expect(
            answer == "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nHTTP/1.1 200 Fine\r\ncontent-length: 4\r\n\r\nnext")
        for _ in 0..<2 { #expect(try #require(await logs.nextTraffic()?.line).terminationState.description == "----") }

        answer = try await ask(get("/eof"))
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\nserver: old\r\nconnection: close\r\n\r\nuntil the close"))
        line = try #require(await logs.nextTraffic()?.line)
        #expect(line.status == 200 && line.terminationState.description == "----")

        answer = try await ask(get("/bad"))
        #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        line = try #require(await logs.nextTraffic()?.line)
        #expect(line.status == 502 && line.terminationState.description == "PH--")

        let before = origin.connections
        answer = try await ask(get("/extra"), get("/next"))
        #expect(answer.contains("\r\n\r\nok") && answer.hasSuffix("next") && !answer.contains("JUNK"))
        for _ in 0..<2 { #expect(try #require(await logs.nextTraffic()?.line).status == 200) }
        #expect(origin.connections >= before + 1, "the connection that sent JUNK was not reused")

        // A head whose body does not follow reaches the client anyway (it waits for the body only within a batch).
        let stall = Array(get("/stall").utf8)
        let head = try await blocking { () -> String in
            let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
            defer { close(fd) }
            let request = stall
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1024)
            while bytes.firstRange(of: Array("\r\n\r\n".utf8)) == nil {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                bytes.append(contentsOf: buffer[..<n])
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(head == "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n", "\(head)")
        line = try #require(await logs.nextTraffic()?.line)
        // The client's close is only the end of its side (nothing more is written to it): the server's timeout
        // ends the exchange, as HAProxy's does.
        #expect(line.terminationState.description == "sD--")
        try await proxy.stop()
        try await origin.close()
        try await logs.close()
    }

    @Test func basicAuthDecodingAndComparison() {
        #expect(Base64.decode("YWRtaW46YWRtaW4=") == Array("admin:admin".utf8))
        #expect(Base64.decode("YQ==") == Array("a".utf8))
        #expect(Base64.decode("***") == nil)
        #expect(StatsPage.constantTimeEqual(Array("ab".utf8), Array("ab".utf8)))
        #expect(!StatsPage.constantTimeEqual(Array("ab".utf8), Array("abc".utf8)))
        #expect(!StatsPage.constantTimeEqual(Array("ab".utf8), Array("ac".utf8)))
    }
}

/// `acl`, `use_backend`, `http-request` and `capture` in HTTP mode: read from the configuration (mistakes named
/// with their line) and carried out on requests.
@Suite("HTTP rules: acl, use_backend, http-request, capture", .serialized)
struct HTTPRulesTests {
    @Test func rulesRouteRewriteDenyAndCapture() async throws {
        let web = try await HTTPOrigin(name: "web")
        let api = try await HTTPOrigin(name: "api")
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        let c = try HAProxyConfigParser.parse(
            text: """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                defaults
                    mode http
                    log global
                    option httplog
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                frontend fe
                    bind 127.0.0.1:\(port)
                    capture request header Host len 4
                    capture response header Content-Type len 40
                    acl is_api path_beg /api
                    acl from_test hdr(x-client) -i Test
                    http-request deny deny_status 403 if { path_end .bak } or from_test !is_api
                    http-request set-header X-Tollgate yes
                    http-request del-header X-Secret
                    use_backend be_api if is_api
                    default_backend be_web
                backend be_web
                    server web 127.0.0.1:\(web.port)
                backend be_api
                    server api 127.0.0.1:\(api.port)
                """)
        let proxy = try ProxyRuntime(configuration: c, threads: 1)
        _ = try await proxy.start()
        func get(_ path: String, _ headers: String = "") async throws -> String {
            let request = "GET \(path) HTTP/1.1\r\nHost: example.org\r\n\(headers)Connection: close\r\n\r\n"
            return String(
                decoding: try await blocking { try Peers.exchange(port: port, Array(request.utf8)) }, as: UTF8.self)
        }
        #expect(try await get("/api/users", "X-Secret: s\r\n").hasSuffix("origin api\n"))
        #expect(api.lastHead?.headers["x-tollgate"] == ["yes"] && api.lastHead?.headers["x-secret"] == [])
        var line = try #require(await logs.nextTraffic()?.line)
        #expect(line.backend == "be_api" && line.server == "api")
        #expect(line.requestHeaders == ["exam"] && line.responseHeaders == ["text/plain"])
        #expect(try await get("/index.html").hasSuffix("origin web\n"))
        line = try #require(await logs.nextTraffic()?.line)
        #expect(line.backend == "be_web")
        // Denied: by an inline ACL, and by a named ACL (case-insensitive) combined with a negated one.
        for (path, headers) in [("/site.bak", ""), ("/index.html", "X-Client: TEST\r\n")] {
            #expect(try await get(path, headers).hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
            line = try #require(await logs.nextTraffic()?.line)
            #expect(line.status == 403 && line.terminationState.description == "PR--" && line.server == "<NOSRV>")
            #expect(line.backend == "fe" && line.bytesRead == 192)
        }
        #expect(try await get("/api/x", "X-Client: test\r\n").hasSuffix("origin api\n"))
        try await proxy.stop()
        try await web.close()
        try await api.close()
        try await logs.close()
    }

    @Test(arguments: [
        ("    use_backend nowhere if { path_beg /x }", "unable to find required use_backend: 'nowhere'."),
        ("    use_backend be if unknown_acl", "no such ACL : 'unknown_acl'."),
        ("    use_backend be when x", "expected 'if' or 'unless' followed by a condition, got 'when'."),
        (
            "    capture request header Host",
            "'capture' expects 'request header NAME len N' or 'response header NAME len N'."
        ),
    ])
    func mistakesAreNamedWithTheirLine(line: String, message: String) {
        let text = "defaults\n    mode http\nfrontend fe\n    bind :8080\n\(line)\n    default_backend be\nbackend be\n"
        do {
            _ = try HAProxyConfigParser.parse(text: text)
            Issue.record("accepted: \(line)")
        } catch {
            #expect(error.alerts.first?.location.line == 5, "\(error)")
            #expect(error.alerts.first?.message == message, "\(error)")
        }
    }
}
