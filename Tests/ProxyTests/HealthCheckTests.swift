import Foundation
import HAProxyLog
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TestSupport
import Testing

@testable import Proxy

/// The seed's check agent (xinetd + a script on 48700): answers each connection `HTTP/1.1 200 OK` or
/// `HTTP/1.1 503 Service Unavailable`, and keeps the last request it got.
final class SwitchableAgent: Sendable {
    let port: Int
    let healthy = NIOLockedValueBox(true)
    let lastRequest = NIOLockedValueBox<[UInt8]>([])
    private let channel: any Channel

    init() async throws {
        let healthy = self.healthy
        let lastRequest = self.lastRequest
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Agent(healthy: healthy, lastRequest: lastRequest))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    func close() async throws { try await channel.close() }

    private final class Agent: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let healthy: NIOLockedValueBox<Bool>
        let lastRequest: NIOLockedValueBox<[UInt8]>
        init(healthy: NIOLockedValueBox<Bool>, lastRequest: NIOLockedValueBox<[UInt8]>) {
            self.healthy = healthy
            self.lastRequest = lastRequest
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).readableBytesView)
            lastRequest.withLockedValue { $0 = bytes }
            let answer =
                healthy.withLockedValue { $0 } ? "HTTP/1.1 200 OK\r\n\r\n" : "HTTP/1.1 503 Service Unavailable\r\n\r\n"
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}

@Suite("Health checks on real sockets", .serialized)
struct HealthCheckTests {
    @Test func theRequestsHAProxy26Sends() {
        #expect(
            String(
                decoding: HealthChecker.request(
                    HTTPCheck(method: "OPTIONS", uri: "*", version: "HTTP/1.1\r\nHost: www")), as: UTF8.self)
                == "OPTIONS * HTTP/1.1\r\nhost: www\r\nconnection: close\r\n\r\n")
        #expect(String(decoding: HealthChecker.request(HTTPCheck()), as: UTF8.self) == "OPTIONS / HTTP/1.0\r\n\r\n")
    }

    /// `http-check send` and `option httpchk` as HAProxy 2.6 combines them (checked byte for byte against HAProxy in
    /// the interop tests): a section's own check lines replace what `defaults` had, a section whose own rules have no
    /// send sends nothing, and what HAProxy refuses is refused with its words.
    @Test func httpCheckSendRulesAsHAProxyCombinesThem() throws {
        let c = try HAProxyConfigParser.parse(
            text: """
                defaults
                  option httpchk GET /d
                  http-check send hdr X-D 1
                backend inherits
                  server s 127.0.0.1:1 check
                backend expectOnly
                  http-check expect status 200
                  server s 127.0.0.1:1 check
                backend merged
                  http-check send hdr X-M 2 body ok
                  option httpchk PUT /m HTTP/1.1
                  server s 127.0.0.1:1 check
                backend noCheck
                  no option httpchk
                  http-check send uri /x
                  server s 127.0.0.1:1 check
                """)
        func sent(_ name: String) -> String? {
            guard let p = c.proxies.first(where: { $0.name == name }), let check = p.settings.httpCheck else { return nil }
            return String(decoding: HealthChecker.request(check, p.settings.httpCheckSend), as: UTF8.self)
        }
        #expect(sent("inherits") == "GET /d HTTP/1.0\r\nx-d: 1\r\n\r\n")
        #expect(sent("expectOnly") == "")
        #expect(sent("merged") == "PUT /m HTTP/1.1\r\nx-m: 2\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        #expect(sent("noCheck") == nil)
        #expect(
            c.warnings.map(\.message) == [
                "backend 'noCheck' uses http-check rules without 'option httpchk', so the rules are ignored."
            ])
        for (lines, message) in [
            (
                "option httpchk\n  http-check send uri /a\n  http-check send uri /b",
                "'http-check send' : unable to add http-check send rule at step 2 (missing connect rule)."
            ),
            (
                "option httpchk\n  http-check send hdr host a hdr Host b",
                "'http-check send' : 'Host' header already defined (previous value is 'a')."
            ),
            (
                "option httpchk\n  http-check send hdr X-Src %[src]",
                "'http-check send' : 'hdr X-Src %[src]' is HAProxy's, not in this build (health checks): refused, "
                    + "because servers would be judged by another test than the configuration asks."
            ),
        ] {
            do throws(ConfigProblems) {
                _ = try HAProxyConfigParser.parse(text: "backend b\n  \(lines)\n  server s 127.0.0.1:1 check\n")
                Issue.record("accepted: \(lines)")
            } catch {
                #expect(error.alerts.map(\.message) == [message])
            }
        }
    }

    /// The next server-state line among the datagrams.
    func nextState(_ logs: LoopbackUDPReceiver) async -> String? {
        while let d = await logs.next() {
            let text = String(decoding: d, as: UTF8.self)
            if text.contains("Server ") || text.contains("has no server available") { return text }
        }
        return nil
    }

    @Test func theSeedsHttpchkOnACheckPortTakesServersDownAndUp() async throws {
        let a = try await EchoBackend()
        let b = try await EchoBackend()
        let agent = try await SwitchableAgent()
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        let deadCheckRefusing = try RefusingPort()
        defer { deadCheckRefusing.close() }
        let deadCheck = deadCheckRefusing.port
        let c = try HAProxyConfigParser.parse(
            text: """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                defaults
                    log global
                    mode tcp
                    option tcplog
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                listen mycat_servers
                    bind 127.0.0.1:\(port)
                    option httpchk OPTIONS * HTTP/1.1\\r\\nHost:\\ www
                    balance roundrobin
                    server mycat_01 127.0.0.1:\(a.port) check port \(agent.port) inter 100ms rise 2 fall 2 weight 10
                    server mycat_02 127.0.0.1:\(b.port) check port \(deadCheck) inter 100ms rise 2 fall 2 weight 10
                """)
        let proxy = try ProxyRuntime(configuration: c, threads: 1)
        _ = try await proxy.start()
        // mycat_02's check port refuses: DOWN at its first check (servers start at `rise`, one failure below).
        let down = try #require(await nextState(logs))
        #expect(down.hasPrefix("<129>"), "alert: \(down)")
        #expect(
            down.contains(
                "Server mycat_servers/mycat_02 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: "
            ), "\(down)")
        #expect(
            down.hasSuffix(
                ". 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.\n"))
        #expect(
            String(decoding: agent.lastRequest.withLockedValue { $0 }, as: UTF8.self)
                == "OPTIONS * HTTP/1.1\r\nhost: www\r\nconnection: close\r\n\r\n")
        // Traffic goes to the server that is up only.
        for n in 1...4 {
            #expect(try Peers.exchange(port: port, Array("q\(n)".utf8), halfClose: true) == Array("q\(n)".utf8))
        }
        // The agent says 503: mycat_01 goes DOWN after fall (2) checks, and nothing is left.
        agent.healthy.withLockedValue { $0 = false }
        let down1 = try #require(await nextState(logs))
        #expect(
            down1.contains(
                "Server mycat_servers/mycat_01 is DOWN, reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\", check duration: "
            ),
            "\(down1)")
        #expect(down1.contains(". 0 active and 0 backup servers left."))
        let none = try #require(await nextState(logs))
        #expect(none.hasPrefix("<128>") && none.contains("proxy mycat_servers has no server available!"), "\(none)")
        #expect(
            try Peers.exchange(port: port, Array("x".utf8), halfClose: true).isEmpty, "no server: the client is closed")
        // Healthy again: UP after rise (2) checks.
        agent.healthy.withLockedValue { $0 = true }
        var up: String?
        while let line = await nextState(logs) {
            if line.contains(" is UP") {
                up = line
                break
            }
        }
        let upLine = try #require(up)
        #expect(upLine.hasPrefix("<133>"))
        #expect(
            upLine.contains(
                "Server mycat_servers/mycat_01 is UP, reason: Layer7 check passed, code: 200, check duration: "))
        #expect(upLine.hasSuffix(". 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.\n"))
        #expect(try Peers.exchange(port: port, Array("back".utf8), halfClose: true) == Array("back".utf8))
        try await proxy.stop()
        try await agent.close()
        try await a.close()
        try await b.close()
        try await logs.close()
    }
}

@Suite("proxy check-agent", .serialized)
struct CheckAgentTests {
    func ask(_ port: Int) throws -> String {
        let request = Array("OPTIONS * HTTP/1.1\r\nhost: www\r\nconnection: close\r\n\r\n".utf8)
        return String(decoding: try Peers.exchange(port: port, request), as: UTF8.self)
    }

    @Test func answers200WhileTheProbedPortAcceptsAnd503Otherwise() async throws {
        let node = try await EchoBackend()
        let agent = try await CheckAgent(
            host: "127.0.0.1", port: 0, probe: .tcp(host: "127.0.0.1", port: node.port), timeout: .milliseconds(500))
        #expect(try ask(agent.port).hasPrefix("HTTP/1.1 200 OK\r\n"))
        try await node.close()
        #expect(try ask(agent.port).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        try await agent.stop()
    }

    @Test func aProbeCommandDecidesByItsExitStatus() async throws {
        let up = try await CheckAgent(host: "127.0.0.1", port: 0, probe: .command("test 1 -eq 1"))
        let down = try await CheckAgent(host: "127.0.0.1", port: 0, probe: .command("exit 3"))
        #expect(try ask(up.port).hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(try ask(down.port).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        try await up.stop()
        try await down.stop()
    }
}
