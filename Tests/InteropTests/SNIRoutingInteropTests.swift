import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// TLS passed through by name (`mode tcp`, `tcp-request inspect-delay`, `tcp-request content accept if {
/// req.ssl_hello_type 1 }`, `use_backend … if { req.ssl_sni … }`) beside HAProxy 2.6, with curl as the client and
/// nginx's TLS listeners as the servers (one behind a PROXY header, so each answer tells which backend it came
/// through): the same backends chosen for the same names, a ClientHello sent in two parts waited for, a name
/// rejected, plain text let through to the default, and the same lines; a frontend whose only rule is `use_backend`
/// goes to its default backend (no content rule: no wait, as HAProxy documents; HAProxy's own outcome there races).
@Suite("TLS passthrough by SNI beside HAProxy", .serialized)
struct SNIRoutingInteropTests {
    @Test func sameBackendsForTheSameNames() async throws {
        let dir = try TemporaryDirectory(prefix: "sni-routing")
        try FileManager.default.createDirectory(atPath: dir.file("ca"), withIntermediateDirectories: true)
        let certs = try TestCertificates(in: dir.file("ca"))
        let (cert, key) = try certs.issue("site", commonName: "site.internal", dnsNames: ["*.wild.internal"])
        let nginx = try Nginx(in: dir, tls: (cert, key, certs.caFile))
        defer { nginx.stop() }
        let curl = try Peers.find("curl")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let splitHello = try ClientHelloCapture.openssl(serverName: "git.wild.internal")
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let ports = try Peers.freePorts(3)
            try """
                \(httpPreamble(logPort: logs.port))
                frontend passthrough
                    bind 127.0.0.1:\(ports[0])
                    mode tcp
                    option tcplog
                    tcp-request inspect-delay 3s
                    tcp-request content reject if { req.ssl_sni -i blocked.wild.internal }
                    tcp-request content accept if { req.ssl_hello_type 1 }
                    acl git req.ssl_sni -i git.wild.internal
                    use_backend git if git
                    use_backend git if { req_ssl_sni -m end .git.wild.internal }
                    default_backend web
                frontend only_use_backend
                    bind 127.0.0.1:\(ports[1])
                    mode tcp
                    option tcplog
                    tcp-request inspect-delay 3s
                    use_backend git if { req.ssl_sni -i git.wild.internal }
                    default_backend web
                frontend short_delay
                    bind 127.0.0.1:\(ports[2])
                    mode tcp
                    option tcplog
                    tcp-request inspect-delay 300ms
                    tcp-request content accept if { req.ssl_hello_type 1 }
                    default_backend git
                backend git
                    mode tcp
                    server g 127.0.0.1:\(nginx.tlsPort)
                backend web
                    mode tcp
                    server w 127.0.0.1:\(nginx.tlsProxyPort) send-proxy

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { ports.allSatisfy { Peers.isListening(port: $0) } }, "\(peer.output)")
            // The probes' own lines go.
            _ = await messages.take(waitingFor: 3, seconds: 1) { $0.contains(" [") }
            var seen: [String] = []
            for (port, name) in [
                (ports[0], "git.wild.internal"), (ports[0], "GIT.wild.internal"), (ports[0], "a.git.wild.internal"),
                (ports[0], "www.wild.internal"), (ports[0], "blocked.wild.internal"), (ports[1], "git.wild.internal"),
            ] {
                let run = try Peers.run(
                    curl,
                    [
                        "-sk", "--max-time", "5", "--resolve", "\(name):\(port):127.0.0.1",
                        "https://\(name):\(port)/sni",
                    ])
                seen.append("\(port == ports[0] ? "passthrough" : "only_use_backend") \(name): status \(run.status) "
                    + String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            }
            // A ClientHello in two parts, 300 ms apart: the rules wait for its end.
            let fd = try Peers.connectLoopback(port: ports[0], timeoutSeconds: 5)
            let half = splitHello.count / 2
            _ = splitHello.withUnsafeBytes { send(fd, $0.baseAddress, half, 0) }
            usleep(300_000)
            _ = splitHello.withUnsafeBytes { send(fd, $0.baseAddress! + half, splitHello.count - half, 0) }
            var first = [UInt8](repeating: 0, count: 5)
            let n = recv(fd, &first, 5, 0)
            close(fd)
            seen.append("split hello: \(n == 5 && first[0] == 0x16 ? "a TLS handshake answered" : "no answer (\(n))")")
            // Plain text where TLS is waited for: no hello, so the accept rule never holds; the delay ends, and the
            // session goes on to the default backend (which answers TLS nonsense with its own error).
            let plain = try Peers.exchange(port: ports[2], Array("GET / HTTP/1.0\r\n\r\n".utf8))
            seen.append("plain text: \(String(decoding: plain.prefix(12), as: UTF8.self))")
            let lines = await messages.take(waitingFor: 8, seconds: 10) { $0.contains(" [") }
            seen += lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).map(ServerTLSInteropTests.connectionCountsBlanked)
                .sorted()
            results[who] = seen
        }
        // A frontend whose only rule is `use_backend`: HAProxy does not wait for the hello, and routes on it only
        // when it happened to come with the connection (racy: seen both ways); the proxy never waits then (the
        // default backend), as HAProxy documents. Compared apart.
        let raced = { (line: String) in line.contains("only_use_backend") }
        let ours = (results["proxy"] ?? []).filter { !raced($0) }
        let theirs = (results["haproxy"] ?? []).filter { !raced($0) }
        #expect(
            (results["proxy"] ?? []).filter(raced).allSatisfy { $0.contains("proxy=127.0.0.1") || $0.contains("web/w") },
            "\(results["proxy"] ?? [])")
        #expect(ours == theirs, "\n\(ours.joined(separator: "\n"))\n--- HAProxy:\n\(theirs.joined(separator: "\n"))")
        #expect(ours.contains { $0.hasPrefix("passthrough git.wild.internal: status 0 sni=git.wild.internal") }, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("passthrough www.wild.internal: status 0") && $0.contains("proxy=127.0.0.1") })
        #expect(ours.contains { $0.contains(" PR ") }, "the rejected name: \(ours)")
    }
}
