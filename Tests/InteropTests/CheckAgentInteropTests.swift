import Foundation
import TestSupport
import Testing

/// Real HAProxy's `option httpchk` (the seed's form) against `proxy check-agent`: the node is UP while the agent's
/// probe succeeds and DOWN when it fails.
@Suite("proxy check-agent under real HAProxy", .serialized)
struct CheckAgentInteropTests {
    @Test func haproxyMarksTheNodeUpAndDownByTheAgent() async throws {
        let haproxy = try Peers.find("haproxy")
        let dir = try TemporaryDirectory(prefix: "check-agent")
        let node = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let agentPort = try Peers.freePort()
        let agent = try RunningPeer(
            try Products.path("proxy"),
            [
                "check-agent", "--listen", "127.0.0.1:\(agentPort)", "--probe", "tcp://127.0.0.1:\(node.port)",
                "--timeout", "300",
            ],
            logPath: dir.file("agent.out"))
        defer { agent.stop() }
        #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: agentPort) })
        let port = try Peers.freePort()
        try """
        global
            log 127.0.0.1:\(logs.port) local0 info
        defaults
            log global
            mode tcp
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        listen mycat_servers
            bind 127.0.0.1:\(port)
            option httpchk OPTIONS * HTTP/1.1\\r\\nHost:\\ www
            server mycat_01 127.0.0.1:\(node.port) check port \(agentPort) inter 200ms rise 1 fall 1

        """.write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
        let balancer = try RunningPeer(
            haproxy, ["-db", "-f", dir.file("haproxy.cfg")], logPath: dir.file("haproxy.out"))
        defer { balancer.stop() }
        // Up: traffic goes through. Then the node goes away: the agent says 503 and HAProxy marks it DOWN.
        #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) })
        try await Task.sleep(for: .milliseconds(600))
        #expect(try Peers.exchange(port: port, Array("q".utf8), halfClose: true) == Array("q".utf8))
        try await node.close()
        var down: String?
        let deadline = ContinuousClock.now + .seconds(10)
        while down == nil && ContinuousClock.now < deadline {
            guard let d = await logs.next() else { break }
            let text = String(decoding: d, as: UTF8.self)
            if text.contains("is DOWN") { down = text }
        }
        let line = try #require(down, "\(balancer.output)")
        #expect(
            line.contains("Server mycat_servers/mycat_01 is DOWN, reason: Layer7 wrong status, code: 503"), "\(line)")
        try await logs.close()
    }
}
