import Foundation
import TestSupport
import Testing

/// The PROXY protocol beside HAProxy 2.6, both ways: HAProxy sends v1 and v2 headers (`send-proxy`,
/// `send-proxy-v2`) to the proxy's `accept-proxy` binds and the proxy logs the real client; the proxy sends them
/// to HAProxy's `accept-proxy` and HAProxy logs the real client; in TCP and HTTP mode; and bad headers get the same
/// log lines from both.
@Suite("PROXY protocol beside HAProxy", .serialized)
struct ProxyProtocolInteropTests {
    @Test func bothWaysWithHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "proxy-protocol")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let echo = try await EchoBackend()
        let origin = try await HTTPOrigin(name: "web", port: 0)
        let ports = try Peers.freePorts(8)
        // Front (plain) -> middle (accept-proxy) -> echo, for TCP v1, TCP v2 and HTTP v1; the front is one program,
        // the middle the other.
        func front(_ middle: Int) -> String {
            """
            global
                log 127.0.0.1:\(logs.port) local0 info
            defaults
                log global
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            listen f_tcp1
                mode tcp
                option tcplog
                bind 127.0.0.1:\(ports[0 + middle])
                server m 127.0.0.1:\(ports[4 + middle]) send-proxy
            listen f_tcp2
                mode tcp
                option tcplog
                bind 127.0.0.1:\(ports[1 + middle])
                server m 127.0.0.1:\(ports[5 + middle]) send-proxy-v2

            """
        }
        func middle(_ at: Int) -> String {
            """
            global
                log 127.0.0.1:\(logs.port) local0 info
            defaults
                log global
                timeout connect 1s
                timeout client 2s
                timeout server 5s
            listen m_tcp1
                mode tcp
                option tcplog
                bind 127.0.0.1:\(ports[4 + at]) accept-proxy
                server e 127.0.0.1:\(echo.port)
            listen m_tcp2
                mode http
                option httplog
                bind 127.0.0.1:\(ports[5 + at]) accept-proxy
                server w 127.0.0.1:\(origin.port)

            """
        }
        _ = middle
        let haproxy = try Peers.find("haproxy")
        let proxy = try Products.path("proxy")
        var seen: [String: [String]] = [:]
        // Round 0: HAProxy in front, the proxy in the middle; round 2: the other way round.
        for (round, frontIsHAProxy) in [(0, true), (2, false)] {
            let names = frontIsHAProxy ? ("haproxy", "proxy") : ("proxy", "haproxy")
            try front(round).replacingOccurrences(of: "f_tcp2\n    mode tcp\n    option tcplog", with: "f_tcp2\n    mode http\n    option httplog")
                .write(toFile: dir.file("front\(round).cfg"), atomically: true, encoding: .utf8)
            try middle(round).write(toFile: dir.file("middle\(round).cfg"), atomically: true, encoding: .utf8)
            let frontPeer = try RunningPeer(
                frontIsHAProxy ? haproxy : proxy, (frontIsHAProxy ? ["-db"] : []) + ["-f", dir.file("front\(round).cfg")],
                logPath: dir.file("front\(round).out"))
            defer { frontPeer.stop() }
            let middlePeer = try RunningPeer(
                frontIsHAProxy ? proxy : haproxy, (frontIsHAProxy ? [] : ["-db"]) + ["-f", dir.file("middle\(round).cfg")],
                logPath: dir.file("middle\(round).out"))
            defer { middlePeer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { ports[round...(round + 1)].allSatisfy(Peers.isListening(port:)) })
            #expect(Peers.waitUntil(seconds: 10) { ports[(4 + round)...(5 + round)].allSatisfy(Peers.isListening(port:)) })
            try await Task.sleep(for: .milliseconds(300))
            _ = messages.take()
            #expect(try Peers.exchange(port: ports[round], Array("ping".utf8), halfClose: true) == Array("ping".utf8))
            let answer = try Peers.exchange(
                port: ports[round + 1], Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 200"), "\(names)")
            let lines = await messages.take(waitingFor: 4, { $0.contains(" m_tcp") || $0.contains(" f_tcp") })
            // The middle's lines carry the client the front saw: the same address and port as the front's.
            let front = lines.filter { $0.contains(" f_tcp") }.compactMap(Self.client)
            let middle = lines.filter { $0.contains(" m_tcp") }.compactMap(Self.client)
            #expect(front.count == 2 && Set(front) == Set(middle), "\(names): \(lines)")
            seen[names.1] = middle
        }
        #expect(seen.count == 2)
    }

    /// `CLIENT:PORT` at the start of a traffic line's message.
    static func client(_ message: String) -> String? {
        message.split(separator: " ").dropFirst().first.map(String.init)
    }

    @Test func badHeadersAreLoggedAsHAProxyLogsThem() async throws {
        let dir = try TemporaryDirectory(prefix: "proxy-protocol-bad")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let echo = try await EchoBackend()
        let haproxy = try Peers.find("haproxy")
        var said: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            try """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                defaults
                    log global
                    mode tcp
                    option tcplog
                    timeout connect 1s
                    timeout client 2s
                    timeout server 5s
                frontend fe
                    bind 127.0.0.1:\(port) accept-proxy
                    default_backend be
                backend be
                    server e 127.0.0.1:\(echo.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"),
                (who == "haproxy" ? ["-db"] : []) + ["-f", dir.file("\(who).cfg")], logPath: dir.file("\(who).out"))
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) })
            try await Task.sleep(for: .milliseconds(300))
            _ = messages.take()
            // The last one says nothing and shuts its side: "Connection closed while waiting…" (no dontlognull).
            for bad in ["GARBAGE\r\nhello", "GARBAGE-GARBAGE-GARBAGE\r\n", "PROXY TCP5 1 2 3 4\r\n", "PROXY TCP4 1.2.3.4", ""] {
                _ = try? Peers.exchange(port: port, Array(bad.utf8), halfClose: true)
            }
            let lines = await messages.take(waitingFor: 5, { $0.contains(" fe/1: ") })
            // Sorted: the lines of connections made one after the other may still arrive in another order.
            said[who] = lines.filter { $0.contains(" fe/1: ") }.map { line in
                String(line.split(separator: "]", maxSplits: 1).last ?? "")
            }.sorted()
        }
        #expect(said["proxy"] == said["haproxy"])
        #expect(said["proxy"]?.count == 5, "\(said)")
    }

    /// `tcp-request connection expect-proxy layer4 if …`: a PROXY header expected from the clients the condition
    /// names (its address then logged), and read as data from the others, on both sides.
    @Test func expectProxyByRuleAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "expect-proxy")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let echo = try await EchoBackend()
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port).replacingOccurrences(of: "mode http\n    option httplog", with: "mode tcp\n    option tcplog"))
            listen trusted
                bind 127.0.0.1:\(ports[0])
                tcp-request connection expect-proxy layer4 if { src 127.0.0.0/8 }
                server e 127.0.0.1:\(echo.port)
            listen untrusted
                bind 127.0.0.1:\(ports[1])
                tcp-request connection expect-proxy layer4 if { src 10.0.0.0/8 }
                server e 127.0.0.1:\(echo.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for port in ports {
                let answer = try Peers.exchange(
                    port: port, Array("PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\nhello".utf8), halfClose: true)
                seen.append(String(decoding: answer, as: UTF8.self))
            }
            let lines = await messages.take(waitingFor: 2, seconds: 10) { $0.contains(" [") }
            return seen + lines.filter { $0.contains(" [") }
                .map { withoutActconn(TCPRequestRulesInteropTests.normalized($0)) }.sorted()
        }
        expectSameSides(results)
        #expect(results["proxy"]?.first == "hello", "\(results)")
        #expect(results["proxy"]?.contains { $0.contains("192.0.2.7:PORT") && $0.contains(" trusted ") } == true, "\(results)")
        try await echo.close()
    }
}
