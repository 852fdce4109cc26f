import Foundation
import HAProxyLog
import LogCore
import SyslogProtocol
import TestSupport
import Testing

/// Real HAProxy 2.6 (Debian) logs real traffic to our UDP receiver. Every datagram it sends must be understood,
/// and rebuilt from the parsed record byte for byte: the formatter *is* HAProxy's, not a likeness.
@Suite("Real HAProxy 2.6", .serialized)
struct HAProxyInteropTests {
    @Test func everyDatagramIsReadAndRebuiltByteForByte() async throws {
        let haproxy = try Peers.find("haproxy")
        let dir = try TemporaryDirectory(prefix: "haproxy-interop")
        let logs = try await LoopbackUDPReceiver()
        let origin = try await LoopbackHTTPResponder()
        let ports = try (0..<6).map { _ in try Peers.freePort() }
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        let (http, clf, plain, failing, tcp, stats) = (ports[0], ports[1], ports[2], ports[3], ports[4], ports[5])
        let config = """
            global
                log 127.0.0.1:\(logs.port) local0 info
            defaults
                log global
                mode http
                option httplog
                timeout connect 1s
                timeout client 5s
                timeout server 5s
                retries 1
            frontend fe_http
                bind 127.0.0.1:\(http)
                capture request header Host len 32
                capture request header User-Agent len 64
                capture response header Content-Type len 20
                default_backend be_http
            frontend fe_clf
                bind 127.0.0.1:\(clf)
                option httplog clf
                default_backend be_http
            frontend fe_plain
                bind 127.0.0.1:\(plain)
                http-request deny if { path_beg /deny }
                default_backend be_http
            frontend fe_err
                bind 127.0.0.1:\(failing)
                default_backend be_dead
            frontend fe_tcp
                mode tcp
                option tcplog
                bind 127.0.0.1:\(tcp)
                default_backend be_tcp
            backend be_http
                server s1 127.0.0.1:\(origin.port)
            backend be_tcp
                mode tcp
                server t1 127.0.0.1:\(origin.port)
            backend be_dead
                server d1 127.0.0.1:\(dead) check inter 300ms fall 1 rise 1
            listen stats
                bind 127.0.0.1:\(stats)
                stats enable
                stats uri /stats

            """
        let configPath = dir.file("haproxy.cfg")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let peer = try RunningPeer(haproxy, ["-db", "-f", configPath], logPath: dir.file("haproxy.out"))
        defer { peer.stop() }
        let up = Peers.waitUntil(seconds: 10) { Peers.isListening(port: stats) }
        try #require(up, "haproxy did not start: \(peer.output)")

        func get(_ port: Int, _ path: String, headers: String = "") throws -> String {
            let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\(headers)Connection: close\r\n\r\n"
            return String(decoding: try Peers.exchange(port: port, Array(request.utf8)), as: UTF8.self)
        }
        #expect(
            try get(http, "/index.html?a=1", headers: "User-Agent: Mozilla/5.0 \"x\" {y|z}\r\n").hasPrefix(
                "HTTP/1.1 200"))
        #expect(try get(clf, "/clf").hasPrefix("HTTP/1.1 200"))
        #expect(try get(plain, "/deny").hasPrefix("HTTP/1.1 403"))
        #expect(try get(failing, "/").hasPrefix("HTTP/1.1 503"))
        #expect(try get(stats, "/stats;csv").hasPrefix("HTTP/1.1 200"))
        _ = try Peers.exchange(port: plain, Array("GARBAGE \u{01}\r\n\r\n".utf8))
        let echoed = try Peers.exchange(port: tcp, Array("GET / HTTP/1.0\r\n\r\n".utf8))
        #expect(!echoed.isEmpty)

        // Seven traffic lines, and the health check's DOWN and "no server available" messages.
        var traffic = 0
        var events = 0
        var understood: [String] = []
        while traffic < 7 || events < 2 {
            let next = try await withTimeout(seconds: 15, "haproxy's log datagrams (\(understood))") {
                await logs.next()
            }
            guard let datagram = next else { break }
            let text = String(decoding: datagram, as: UTF8.self)
            let (kind, rebuilt) = try rebuild(datagram)
            #expect(rebuilt == datagram, "\(text)")
            understood.append(kind)
            if kind == "traffic" { traffic += 1 } else { events += 1 }
        }
        #expect(traffic == 7)
        #expect(events >= 2)
        try await logs.close()
        try await origin.close()
    }

    /// Parses a datagram the way the product does (syslog header, then the log line) and rebuilds it from the
    /// parsed values alone.
    func rebuild(_ datagram: [UInt8]) throws -> (String, [UInt8]) {
        let message = SyslogParser.parse(datagram, reception: SyslogReception(fromHost: "localhost"))
        let tag = message.syslogTagString
        let pid = Int(tag.drop { $0 != "[" }.dropFirst().prefix { $0 != "]" }) ?? -1
        #expect(message.programNameString == "haproxy")
        let header = HAProxySyslogHeader(facility: message.priority.facility, pid: pid)
        let t = message.timestamp
        let time = CivilTime(year: t.year, month: t.month, day: t.day, hour: t.hour, minute: t.minute, second: t.second)
        let body = String(decoding: message.msg.dropFirst(), as: UTF8.self)

        switch HAProxyLogParser.parse(body) {
        case .traffic:
            let record = try #require(HAProxyLogParser.record(body))
            let format: HAProxyLogFormat = body.contains(" - - [") ? .clf : .default(for: record)
            let line = format.format(record)
            // The level HAProxy chose is the one the record implies (no log-separate-errors here: info).
            return ("traffic", header.datagram(message: line, severity: message.priority.severity, time: time))
        case .event:
            let event = try #require(HAProxyEvent(message: body), "\(body)")
            #expect(Int(message.priority.severity.rawValue) == event.level, "\(body)")
            return (
                "event",
                header.datagram(message: Array(event.message.utf8), severity: message.priority.severity, time: time)
            )
        case .other, .malformed:
            Issue.record("not understood: \(body)")
            return ("unknown", [])
        }
    }
}
