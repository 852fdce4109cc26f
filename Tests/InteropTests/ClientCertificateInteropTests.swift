import Foundation
import TestSupport
import Testing

/// Client certificates on a TLS listener (`bind … ssl crt … ca-file … verify optional|required`) and the TLS
/// fetches in rules and headers (`ssl_fc_sni`, `ssl_fc_protocol`, `ssl_c_used`, `ssl_c_verify`, `%{+Q}[ssl_c_s_dn]`)
/// beside HAProxy 2.6, with curl presenting a certificate of the CA, one of another CA, or none: the same answers,
/// the same headers at the server, the same refusals, the same lines.
@Suite("Client certificates and TLS fetches beside HAProxy", .serialized)
struct ClientCertificateInteropTests {
    @Test func sameVerdictsHeadersAndLines() async throws {
        let dir = try TemporaryDirectory(prefix: "client-certs")
        for folder in ["ca", "other"] {
            try FileManager.default.createDirectory(atPath: dir.file(folder), withIntermediateDirectories: true)
        }
        let certs = try TestCertificates(in: dir.file("ca"))
        let (siteCert, siteKey) = try certs.issue(
            "site", commonName: "site.example.test", dnsNames: ["site.example.test", "*.example.test"])
        let site = dir.file("site.pem")
        try (String(contentsOfFile: siteCert, encoding: .utf8) + String(contentsOfFile: siteKey, encoding: .utf8))
            .write(toFile: site, atomically: true, encoding: .utf8)
        let (goodCert, goodKey) = try certs.issue("alice", commonName: "alice")
        let other = try TestCertificates(in: dir.file("other"))
        let (strangerCert, strangerKey) = try other.issue("mallory", commonName: "mallory")
        let curl = try Peers.find("curl")
        let origin = try await HTTPOrigin(name: "one", port: 0)
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 3, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend optional
                bind 127.0.0.1:\(ports[0]) ssl crt \(site) ca-file \(certs.caFile) verify optional
                http-request deny if { ssl_fc_sni_end blocked.example.test }
                http-request set-header X-Verify %[ssl_c_verify]
                http-request set-header X-DN %{+Q}[ssl_c_s_dn]
                http-request set-header X-Used %[ssl_c_used]
                http-request set-header X-SNI %[ssl_fc_sni]
                http-request set-header X-Proto %[ssl_fc_protocol]
                use_backend two if { ssl_fc_sni -i two.example.test } { ssl_c_used }
                default_backend one
            frontend required
                bind 127.0.0.1:\(ports[1]) ssl crt \(site) ca-file \(certs.caFile) verify required
                default_backend one
            frontend verify_file
                bind 127.0.0.1:\(ports[2]) ssl crt \(site) ca-verify-file \(certs.caFile) verify required
                default_backend one
            backend one
                server o 127.0.0.1:\(origin.port)
            backend two
                http-request set-header X-Backend two
                server t 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            let clients: [(String, [String])] = [
                ("alice", ["--cert", goodCert, "--key", goodKey]), ("mallory", ["--cert", strangerCert, "--key", strangerKey]),
                ("none", []),
            ]
            for (port, name) in [
                (ports[0], "one.example.test"), (ports[0], "two.example.test"), (ports[0], "blocked.example.test"),
                (ports[1], "one.example.test"), (ports[2], "one.example.test"),
            ] {
                for (client, options) in clients {
                    let run = try Peers.run(
                        curl,
                        ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--cacert", certs.caFile,
                         "--resolve", "\(name):\(port):127.0.0.1", "https://\(name):\(port)/"] + options)
                    var line = "\(port == ports[0] ? "optional" : port == ports[1] ? "required" : "verify-file") \(name) \(client): "
                        + String(decoding: run.stdout, as: UTF8.self)
                    if run.stdout == Data("200".utf8) {
                        let head = origin.lastHead
                        line += " " + ["x-backend", "x-verify", "x-dn", "x-used", "x-sni", "x-proto"]
                            .map { "\($0)=\(head?.headers[$0].first ?? "-")" }.joined(separator: " ")
                    }
                    seen.append(line)
                }
            }
            let lines = await messages.take(waitingFor: 15, seconds: 10) { $0.contains(" [") }
            return seen + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains { $0.hasPrefix("optional one.example.test alice: 200") && $0.contains("x-dn=/CN=alice") })
        // `ca-verify-file` alone verifies as `ca-file` does.
        #expect(ours.contains { $0.hasPrefix("verify-file one.example.test alice: 200") }, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("verify-file one.example.test mallory: 000") }, "\(ours)")
        try await origin.close()
    }
}
