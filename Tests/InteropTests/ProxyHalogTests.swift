import Foundation
import TestSupport
import Testing

/// The whole path of the seed: the proxy's tcplog lines over syslog to the sink, filed in haproxy.log as rsyslog
/// files them, read by Debian's halog without a parsing error and counted (by logquery) as the sessions were.
@Suite("halog over the proxy's own log file")
struct ProxyHalogTests {
    /// A syslog-sink on a UDP port of its own that files local0 in `dir`/haproxy.log as rsyslog would.
    static func startFilingSink(in dir: TemporaryDirectory) throws -> (RunningPeer, Int) {
        try """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="0")
        $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
        local0.* \(dir.file("haproxy.log"))
        & stop

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        return try startSink(["-n", "-f", dir.file("sink.conf")], log: dir.file("sink.out"))
    }

    @Test func halogCountsTheProxysSessionsByTerminationState() async throws {
        let halog = try Peers.find("halog")
        let dir = try TemporaryDirectory(prefix: "proxy-halog")
        let (sink, logPort) = try Self.startFilingSink(in: dir)
        defer { sink.stop() }
        let echo = try await EchoBackend()
        let stalled = try StalledServer()
        defer { stalled.stop() }
        let stalledPort = stalled.port
        let ports = try (0..<4).map { _ in try Peers.freePort() }
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        try """
        global
            log 127.0.0.1:\(logPort) local0 info
        defaults
            log global
            mode tcp
            option tcplog
            option dontlognull
            retries 1
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        listen ok
            bind 127.0.0.1:\(ports[0])
            server s 127.0.0.1:\(echo.port)
        listen refused
            bind 127.0.0.1:\(ports[1])
            server dead 127.0.0.1:\(dead)
        listen stalled
            bind 127.0.0.1:\(ports[2])
            timeout server 200ms
            server st 127.0.0.1:\(stalledPort)
        listen queued
            bind 127.0.0.1:\(ports[3])
            timeout server 1500ms
            timeout queue 300ms
            server q 127.0.0.1:\(stalledPort) maxconn 1

        """.write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let proxy = try RunningPeer(try Products.path("proxy"), ["-f", dir.file("p.cfg")], logPath: dir.file("p.out"))
        defer { proxy.stop() }
        #expect(Peers.waitUntil(seconds: 10) { proxy.output.contains("listening on") })
        try await blocking {
            for n in 0..<30 { _ = try Peers.exchange(port: ports[0], Array("session \(n)".utf8), halfClose: true) }
            for _ in 0..<5 { _ = try Peers.exchange(port: ports[1], Array("refused".utf8), halfClose: true) }
            for _ in 0..<3 { _ = try Peers.exchange(port: ports[2], Array("stalled".utf8), halfClose: true) }
            // One session holds the only slot (and ends by timeout server); the next waits past timeout queue.
            let holder = try Peers.connectLoopback(port: ports[3], timeoutSeconds: 5)
            _ = send(holder, "hold", 4, 0)
            usleep(100_000)
            _ = try Peers.exchange(port: ports[3], Array("queued".utf8), halfClose: true)
            _ = Peers.readUntilClosed(holder)
            close(holder)
        }
        let file = dir.file("haproxy.log")
        func traffic() -> Data {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            return Data(
                text.split(separator: "\n").filter { $0.contains(" [26/") || $0.contains("]: 127.0.0.1:") }
                    .map { $0 + "\n" }.joined().utf8)
        }
        #expect(
            Peers.waitUntil(seconds: 10) {
                String(decoding: traffic(), as: UTF8.self).split(separator: "\n").count >= 40
            })
        // halog reads every traffic line (the start lines are not traffic: halog counts them as parsing errors,
        // as it does HAProxy's own). Its per-field reports (-tc, -st, -srv) assume the httplog layout and read
        // tcplog lines, HAProxy's included, at the wrong place; logquery counts them.
        let counted = try Peers.run(halog, ["-c"], stdin: traffic())
        let summary = String(decoding: counted.stderr, as: UTF8.self) + String(decoding: counted.stdout, as: UTF8.self)
        #expect(String(decoding: counted.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "40")
        // -H -v: the lines that are not HTTP lines, that is all of them, each read as a TCP line.
        let checked = try Peers.run(halog, ["-H", "-v"], stdin: traffic())
        #expect(checked.stdout == traffic())
        #expect(
            String(decoding: checked.stderr, as: UTF8.self).contains("40 lines in, 40 lines out, 0 parsing errors"),
            "\(summary) \(String(decoding: checked.stderr, as: UTF8.self))")
        let states = try Peers.run(try Products.path("logquery"), ["terminations", "--format", "csv", file])
        #expect(
            String(decoding: states.stdout, as: UTF8.self) == "termination,count\n--,30\nSC,5\nsD,4\nsQ,1\n",
            "the mix sent: 30 normal, 5 refused, 4 server timeouts, 1 queue timeout")
        // The audit trail in the same file: the proxy's start, with its configuration's hash.
        let audit = try Peers.run(try Products.path("logquery"), ["events", "--audit", "--format", "csv", file])
        let rows = String(decoding: audit.stdout, as: UTF8.self).split(separator: "\n").dropFirst()
        #expect(rows.contains { $0.contains(",audit,") && $0.contains("audit: start pid=\(proxy.pid)") }, "\(rows)")
        #expect(
            !rows.contains { $0.contains(",proxy-started,") },
            "no 'Proxy NAME started.' line: HAProxy 2.3 and later send none \(rows)")
        try await echo.close()
    }

    /// HTTP mode: a known mix of requests through the proxy, its httplog lines filed by the sink, and halog's
    /// per-server (-srv), per-status (-st) and percentile (-pct) reports give the counts the mix implies.
    @Test func halogReportsTheProxysHTTPLines() async throws {
        let halog = try Peers.find("halog")
        let dir = try TemporaryDirectory(prefix: "proxy-halog-http")
        let (sink, logPort) = try Self.startFilingSink(in: dir)
        defer { sink.stop() }
        let a = try await HTTPOrigin(name: "a")
        let b = try await HTTPOrigin(name: "b")
        let ports = try (0..<3).map { _ in try Peers.freePort() }
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        try """
        global
            log 127.0.0.1:\(logPort) local0 info
        defaults
            log global
            mode http
            option httplog
            retries 1
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        listen web
            bind 127.0.0.1:\(ports[0])
            balance roundrobin
            server a 127.0.0.1:\(a.port)
            server b 127.0.0.1:\(b.port)
        listen gone
            bind 127.0.0.1:\(ports[1])
            server dead 127.0.0.1:\(dead)
        listen admin_stats
            bind 127.0.0.1:\(ports[2])
            stats uri /admin-status
            stats auth admin:admin

        """.write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let proxy = try RunningPeer(try Products.path("proxy"), ["-f", dir.file("p.cfg")], logPath: dir.file("p.out"))
        defer { proxy.stop() }
        #expect(Peers.waitUntil(seconds: 10) { proxy.output.contains("listening on") })
        @Sendable func get(_ port: Int, _ path: String) throws {
            _ = try Peers.exchange(
                port: port, Array("GET \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".utf8))
        }
        // The mix: 20 answered (10 by each server), 4 dropped by the servers (502, 2 each), 3 with no server
        // reachable (503), 2 stats-page requests without credentials (401).
        try await blocking {
            for _ in 0..<20 { try get(ports[0], "/") }
            for _ in 0..<4 { try get(ports[0], "/drop") }
            for _ in 0..<3 { try get(ports[1], "/") }
            for _ in 0..<2 { try get(ports[2], "/admin-status") }
        }
        let file = dir.file("haproxy.log")
        func traffic() -> Data {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            return Data(
                text.split(separator: "\n").filter { $0.contains("]: 127.0.0.1:") }.map { $0 + "\n" }.joined().utf8)
        }
        #expect(
            Peers.waitUntil(seconds: 10) {
                String(decoding: traffic(), as: UTF8.self).split(separator: "\n").count >= 29
            })
        // Every line is an HTTP line to halog: -H -v lets none through, with no parsing error.
        let checked = try Peers.run(halog, ["-H", "-v"], stdin: traffic())
        #expect(checked.stdout.isEmpty)
        #expect(String(decoding: checked.stderr, as: UTF8.self).contains("29 lines in, 0 lines out, 0 parsing errors"))
        // -st: the statuses of the mix.
        let statuses = String(decoding: try Peers.run(halog, ["-st", "-q"], stdin: traffic()).stdout, as: UTF8.self)
        let counts = Dictionary(
            uniqueKeysWithValues: statuses.split(separator: "\n").compactMap { row -> (String, Int)? in
                let f = row.split(separator: " ")
                guard f.count == 2, let n = Int(f[1]) else { return nil }
                return (String(f[0]), n)
            })
        // The stats page's refusals are logged 400, as HAProxy 2.6 logs them (the client gets the 401).
        #expect(counts == ["200": 20, "400": 2, "502": 4, "503": 3], "\(statuses)")
        // -srv: per server, the requests and the 2xx/5xx among them.
        let servers = String(decoding: try Peers.run(halog, ["-srv", "-q"], stdin: traffic()).stdout, as: UTF8.self)
        func row(_ name: String) -> [String] {
            servers.split(separator: "\n").first { $0.hasPrefix(name + " ") }?.split(separator: " ").map(String.init)
                ?? []
        }
        // Columns: name 1xx 2xx 3xx 4xx 5xx other tot_req req_ok pct_ok avg_ct avg_rt.
        #expect(row("web/a").dropFirst().prefix(7) == ["0", "10", "0", "0", "2", "0", "12"], "\(servers)")
        #expect(row("web/b").dropFirst().prefix(7) == ["0", "10", "0", "0", "2", "0", "12"], "\(servers)")
        #expect(row("gone/dead").dropFirst().prefix(7) == ["0", "0", "0", "0", "3", "0", "3"], "\(servers)")
        // -pct: the percentile table covers the lines with every timer set (halog leaves out those with a -1): the 20
        // answered (the stats page's refusals have no response time, as HAProxy 2.6 logs them).
        let percentiles = try Peers.run(halog, ["-pct", "-q"], stdin: traffic())
        let last = String(decoding: percentiles.stdout, as: UTF8.self).split(separator: "\n").last ?? ""
        #expect(last.hasPrefix("100.0 20 "), "\(String(decoding: percentiles.stdout, as: UTF8.self))")
        try await a.close()
        try await b.close()
    }
}
