import Testing

@testable import Proxy

/// Which frontends' sessions run on the TCP data plane (docs/proxy.md, "Threads and the TCP data plane"): plain TCP
/// in and out does; what needs NIO's channels (HTTP, a PROXY header to read, TLS to a server) stays there.
@Suite("The TCP data plane takes plain TCP frontends, and only those")
struct DataPlaneChoiceTests {
    static func choices(_ body: String) async throws -> [String: Bool] {
        let text = """
            defaults
                mode tcp
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            \(body)
            """
        let runtime = try ProxyRuntime(configuration: try HAProxyConfigParser.parse(text: text), threads: 1)
        var choices: [String: Bool] = [:]
        for frontend in runtime.frontends {
            for bind in frontend.section.binds { choices[frontend.section.name] = frontend.runsOnDataPlane(bind) }
        }
        try await runtime.stop()
        return choices
    }

    @Test func plainTCPRunsOnThePlane() async throws {
        let choices = try await Self.choices(
            """
            listen db
                bind 127.0.0.1:3306
                tcp-request inspect-delay 1s
                tcp-request content reject if { src 10.9.9.9 }
                server a 127.0.0.1:13306 send-proxy
            frontend routed
                bind 127.0.0.1:3307
                use_backend other if { src 10.0.0.0/8 }
                default_backend db
            backend other
                server b 127.0.0.1:13307
            """)
        #expect(choices == ["db": true, "routed": true])
    }

    @Test func whatNeedsNIOStaysThere() async throws {
        let choices = try await Self.choices(
            """
            listen web
                mode http
                bind 127.0.0.1:8080
                server a 127.0.0.1:18080
            listen proxied
                bind 127.0.0.1:3308 accept-proxy
                server a 127.0.0.1:13306
            listen expecting
                bind 127.0.0.1:3309
                tcp-request connection expect-proxy layer4 if { src 127.0.0.1 }
                server a 127.0.0.1:13306
            listen tls-to-server
                bind 127.0.0.1:3310
                server a 127.0.0.1:13306 ssl verify none
            frontend routed-to-tls
                bind 127.0.0.1:3311
                use_backend secure if { src 10.0.0.0/8 }
                default_backend plain
            backend secure
                server s 127.0.0.1:13307 ssl verify none
            backend plain
                server p 127.0.0.1:13308
            """)
        #expect(
            choices == [
                "web": false, "proxied": false, "expecting": false, "tls-to-server": false, "routed-to-tls": false,
            ])
    }
}
