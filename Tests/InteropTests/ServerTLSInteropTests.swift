import Foundation
import TestSupport
import Testing

/// TLS to servers (`server … ssl verify required ca-file … sni … crt …`, `check-ssl`) beside HAProxy 2.6, against
/// Debian's nginx serving TLS with a certificate of a CA made by openssl in the test, asking for client certificates
/// and telling (on `/sni`) what each connection carried. The same answers (the SNI sent, the client certificate
/// presented, the PROXY header before the handshake), the same refusals (a certificate of another CA, a name that is
/// not the certificate's: 503 and `SC--`, or `SC` in TCP), the same lines, and the same health-check verdicts
/// (layer 6 and layer 7 over TLS, a handshake refused).
@Suite("TLS to servers beside HAProxy", .serialized)
struct ServerTLSInteropTests {
    @Test func trafficAndChecksAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "server-tls")
        for folder in ["ca", "other"] {
            try FileManager.default.createDirectory(atPath: dir.file(folder), withIntermediateDirectories: true)
        }
        let certs = try TestCertificates(in: dir.file("ca"))
        let (cert, key) = try certs.issue("api", commonName: "api.internal", dnsNames: ["api.internal", "*.wild.internal"])
        let (clientCert, clientKey) = try certs.issue("gate", commonName: "gate")
        let clientPEM = dir.file("gate.pem")
        try (String(contentsOfFile: clientCert, encoding: .utf8) + String(contentsOfFile: clientKey, encoding: .utf8))
            .write(toFile: clientPEM, atomically: true, encoding: .utf8)
        let other = try TestCertificates(in: dir.file("other"))
        let nginx = try Nginx(in: dir, tls: (cert, key, certs.caFile))
        defer { nginx.stop() }
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let names = ["ok", "hdr", "wrongca", "wrongname", "verifyhost", "none", "proxied", "tok", "twrong", "bridged"]
        // The bridged frontend terminates TLS with the servers' own certificate and passes the client's SNI on.
        let sitePEM = dir.file("site.pem")
        try (String(contentsOfFile: cert, encoding: .utf8) + String(contentsOfFile: key, encoding: .utf8))
            .write(toFile: sitePEM, atomically: true, encoding: .utf8)
        let curl = try Peers.find("curl")
        let server = "127.0.0.1:\(nginx.tlsPort)"
        let servers = [
            "ok": "\(server) ssl verify required ca-file \(certs.caFile) sni str(api.internal) crt \(clientPEM)",
            "hdr": "\(server) ssl verify required ca-file \(certs.caFile) sni req.hdr(host)",
            "wrongca": "\(server) ssl verify required ca-file \(other.caFile) sni str(api.internal)",
            "wrongname": "\(server) ssl verify required ca-file \(certs.caFile) sni str(wrong.internal)",
            "verifyhost": "\(server) ssl verify required ca-file \(certs.caFile) verifyhost x.wild.internal",
            "none": "\(server) ssl verify none",
            "proxied": "127.0.0.1:\(nginx.tlsProxyPort) ssl verify none send-proxy sni str(p.wild.internal)",
            "tok": "\(server) ssl verify required ca-file \(certs.caFile) sni str(api.internal)",
            "twrong": "\(server) ssl verify required ca-file \(other.caFile)",
            "bridged": "\(server) ssl verify required ca-file \(certs.caFile) sni ssl_fc_sni",
        ]
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let ports = try Peers.freePorts(names.count)
            var text = httpPreamble(logPort: logs.port) + "\n    option log-health-checks\n    retries 0\n"
            for (name, port) in zip(names, ports) {
                let tcp = name.hasPrefix("t") ? "\n    mode tcp\n    option tcplog" : ""
                let ssl = name == "bridged" ? " ssl crt \(sitePEM)" : ""
                text += """
                    listen \(name)
                        bind 127.0.0.1:\(port)\(ssl)\(tcp)
                        server s \(servers[name] ?? "")

                    """
            }
            text += """
                backend chk_l7
                    option httpchk GET /sni
                    server s \(server) check inter 300ms ssl verify required ca-file \(certs.caFile)
                backend chk_l6
                    server s 127.0.0.1:\(nginx.port) check inter 300ms port \(nginx.tlsPort) check-ssl verify none
                backend chk_bad
                    server s \(server) check inter 300ms check-ssl verify required ca-file \(other.caFile)

                """
            try text.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { ports.allSatisfy { Peers.isListening(port: $0) } }, "\(peer.output)")
            // The lines of those probes go (each made a connection); the checks' stay.
            var logged = await messages.take(waitingFor: 2 * names.count, seconds: 1) { $0.contains(" [") }
                .filter { !$0.contains(" [") }
            let bridgedPort = ports[names.count - 1]
            let bridged = try Peers.run(
                curl,
                ["-s", "--max-time", "5", "--cacert", certs.caFile, "--resolve", "b.wild.internal:\(bridgedPort):127.0.0.1",
                 "https://b.wild.internal:\(bridgedPort)/sni"])
            var seen = ["bridged: " + String(decoding: bridged.stdout, as: UTF8.self)]
            for (name, port) in zip(names, ports) where name != "bridged" {
                let hosts = name == "hdr" ? ["x.wild.internal", "api.internal"] : ["x"]
                for host in hosts {
                    let request = name.hasPrefix("t")
                        ? "GET /sni HTTP/1.0\r\nHost: \(host)\r\n\r\n"
                        : "GET /sni HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
                    let answer = String(
                        decoding: try Peers.exchange(port: port, Array(request.utf8)), as: UTF8.self)
                    let lines = answer.split(separator: "\r\n", omittingEmptySubsequences: false)
                    seen.append("\(name) \(host): \(lines.first ?? "") \(answer.hasPrefix("HTTP/1.1 200") || answer.hasPrefix("HTTP/1.0 200") ? String(lines.last ?? "") : "")")
                }
            }
            logged += await messages.take(waitingFor: names.count + 1, seconds: 10) { $0.contains(" [") }
            seen += logged.filter { $0.contains(" [") }.map(normalizedHTTPLine).map(Self.connectionCountsBlanked).sorted()
            // The checks' verdicts: what changed, as each logs it (the duration varies).
            try await Task.sleep(for: .seconds(1))
            logged += messages.take()
            let checks = logged.filter { $0.contains("Health check") || $0.contains("is DOWN") }
            seen += Set(
                checks.map { line in
                    line.replacingOccurrences(of: #"check duration: \d+ms"#, with: "check duration: Nms", options: .regularExpression)
                }
            ).sorted()
            results[who] = seen
        }
        let ours = results["proxy"] ?? []
        let theirs = results["haproxy"] ?? []
        #expect(ours == theirs, "\n\(ours.joined(separator: "\n"))\n--- HAProxy:\n\(theirs.joined(separator: "\n"))")
        #expect(ours.contains { $0.hasPrefix("ok x: HTTP/1.1 200") && $0.contains("sni=api.internal client=SUCCESS") }, "\(ours)")
        #expect(ours.contains { $0.contains("proxy=127.0.0.1") }, "\(ours)")
        #expect(ours.first == "bridged: sni=b.wild.internal client=NONE  proxy=\n", "\(ours)")
        #expect(ours.contains { $0.contains("SC--") } && ours.contains { $0.contains("Layer6 invalid response") }, "\(ours)")
    }

    /// A tcplog line's connection counts blanked as `normalizedHTTPLine` blanks an httplog line's.
    static func connectionCountsBlanked(_ line: String) -> String {
        line.split(separator: " ").map { word in
            let parts = word.split(separator: "/")
            return parts.count == 5 && parts.allSatisfy({ Int($0) != nil }) ? "A/F/B/S/\(parts[4])" : String(word)
        }.joined(separator: " ")
    }

    /// What HAProxy refuses at load, refused alike with the file and line: `verify required` (said, or by default)
    /// without a CA, a `ca-file` or `crt` that is not there, `verify optional` on a server.
    @Test func badServerTLSIsRefusedAsHAProxyRefusesIt() throws {
        let dir = try TemporaryDirectory(prefix: "server-tls-check")
        let lines = [
            "ssl", "ssl verify required", "ssl verify required ca-file \(dir.file("missing.pem"))",
            "ssl verify none crt \(dir.file("missing.pem"))", "ssl verify optional", "ssl verify none",
            "check-ssl verify none", "ssl verify required ca-file @system-ca sni str(example.com)",
            "ssl verify none ciphers PROFILE=SYSTEM", "ssl verify none ciphers ECDHE+AESGCM",
            "ssl verify none ciphers ECDHE+AESGCM:DH+AE$", "ssl verify none ciphers ECDHE+AESGCM:$DH",
        ]
        for options in lines {
            let (theirs, ours, said) = try ProxyTLSTests.loadVerdicts(server: options, in: dir)
            #expect(theirs == ours, "\(options): \(said)")
            if !theirs { #expect(said.contains("check.cfg:10"), "\(options): \(said)") }
        }
    }
}
