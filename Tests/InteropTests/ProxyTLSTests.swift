import Foundation
import TestSupport
import Testing

@testable import Proxy

/// `bind … ssl crt …` beside HAProxy 2.6, with certificates made by openssl and real clients (curl, openssl
/// s_client): the same answers and the same httplog lines (`fe~` for the TLS listener, `ssl_fc` in a rule), the
/// same certificate chosen by SNI from a `crt` folder (exact name, wildcard, the first file as default), the same
/// refusal of a version below `ssl-min-ver` logged as HAProxy logs it, and the same verdicts on broken `crt`s.
@Suite("TLS listeners beside HAProxy", .serialized)
struct ProxyTLSTests {
    struct Certificates {
        let dir: TemporaryDirectory
        let certs: TestCertificates
        /// A `crt` folder: 10-site.pem (localhost; the default) and 20-b.pem (b.example.test, *.wild.test).
        let folder: String

        init() throws {
            dir = try TemporaryDirectory(prefix: "proxy-tls")
            try FileManager.default.createDirectory(atPath: dir.file("ca"), withIntermediateDirectories: true)
            certs = try TestCertificates(in: dir.file("ca"))
            folder = dir.file("crt")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (name, cn, dns) in [
                ("10-site", "localhost", ["localhost"]), ("20-b", "b.example.test", ["b.example.test", "*.wild.test"]),
            ] {
                let (cert, key) = try certs.issue(name, commonName: cn, dnsNames: dns)
                let pem = try String(contentsOfFile: cert, encoding: .utf8) + String(contentsOfFile: key, encoding: .utf8)
                try pem.write(toFile: folder + "/\(name).pem", atomically: true, encoding: .utf8)
            }
        }
    }

    @Test func answersLogsAndCertificatesEqualHAProxys() async throws {
        let c = try Certificates()
        let nginx = try Nginx(in: c.dir)
        defer { nginx.stop() }
        let logs = try await LoopbackUDPReceiver()
        func config(_ plain: Int, _ tls: Int) -> String {
            HTTPVersusHAProxyTests.preamble(logPort: logs.port)
                + """
                frontend fe
                    bind 127.0.0.1:\(plain)
                    bind 127.0.0.1:\(tls) ssl crt \(c.folder) alpn h2,http/1.1 ssl-min-ver TLSv1.2 curves P-384
                    http-request redirect scheme https code 301 if !{ ssl_fc }
                    default_backend be
                backend be
                    server web 127.0.0.1:\(nginx.port)

                """
        }
        let haproxy = try Peers.find("haproxy")
        let curl = try Peers.find("curl")
        let openssl = try Peers.find("openssl")
        var lines: [[String]] = []
        var answers: [[String]] = []
        for who in ["haproxy", "proxy"] {
            let plain = try Peers.freePort()
            var tls = try Peers.freePort()
            while tls == plain { tls = try Peers.freePort() }
            try config(plain, tls).write(toFile: c.dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"),
                (who == "haproxy" ? ["-db"] : []) + ["-f", c.dir.file("\(who).cfg")], logPath: c.dir.file("\(who).out"))
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: plain) && Peers.isListening(port: tls) })
            // The listening probe closed during a handshake: dontlognull keeps that out of the log.
            try await Task.sleep(for: .milliseconds(500))
            var got: [String] = []
            var said: [String] = []
            func collect(_ count: Int) async {
                var wanted = count
                while wanted > 0, let datagram = await logs.next(within: 10) {
                    let text = String(decoding: datagram, as: UTF8.self)
                    guard text.contains("]: 127.0.0.1:") else { continue }
                    got.append(
                        text.contains("SSL handshake")
                            ? HTTPVersusHAProxyTests.withoutVariables(
                                text.trimmingCharacters(in: .whitespacesAndNewlines))
                            : HTTPVersusHAProxyTests.normalized(text))
                    wanted -= 1
                }
            }
            // Plain HTTP is sent to HTTPS; over TLS the page comes (HTTP/1.1: h2 is not served here).
            let redirect = try Peers.run(
                curl, ["-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "http://127.0.0.1:\(plain)/x"])
            said.append(String(decoding: redirect.stdout, as: UTF8.self).replacingOccurrences(of: "\(plain)", with: "PORT"))
            await collect(1)
            let page = try Peers.run(
                curl,
                [
                    "-s", "--http1.1", "--cacert", c.certs.caFile, "--resolve", "localhost:\(tls):127.0.0.1",
                    "https://localhost:\(tls)/",
                ])
            said.append(String(decoding: page.stdout, as: UTF8.self))
            await collect(1)
            // The certificate for each name the client asks.
            for name in ["b.example.test", "x.wild.test", "other.test", "localhost"] {
                let hello = try Peers.run(
                    openssl, ["s_client", "-connect", "127.0.0.1:\(tls)", "-servername", name], stdin: Data(), timeout: 10)
                let output = String(decoding: hello.stdout, as: UTF8.self).split(separator: "\n")
                let subject = output.first { $0.hasPrefix("subject=") }.map(String.init) ?? "no certificate"
                // The group the server chose: the first of `curves` the client offers too.
                let group = output.first { $0.hasPrefix("Server Temp Key") }.map(String.init) ?? "no key exchange"
                said.append("\(name): \(subject), \(group)")
            }
            // Below ssl-min-ver: refused, and logged as a failed handshake on listener 2.
            _ = try Peers.run(openssl, ["s_client", "-connect", "127.0.0.1:\(tls)", "-tls1_1"], stdin: Data(), timeout: 10)
            await collect(1)
            lines.append(got)
            answers.append(said)
        }
        #expect(lines.count == 2 && lines[0].count == 3, "\(lines)")
        HTTPVersusHAProxyTests.expectSame(lines, answers)
        #expect(lines[1].contains { $0.contains(" fe~ be/web ") }, "\(lines)")
        #expect(lines[1].last?.hasSuffix("fe/2: SSL handshake failure") ?? false, "\(lines)")
        #expect(answers[1].contains { $0.hasPrefix("x.wild.test: subject=CN = b.example.test") }, "\(answers)")
        #expect(answers[1].contains { $0.hasPrefix("other.test: subject=CN = localhost") }, "\(answers)")
        #expect(answers[1].contains { $0.contains("secp384r1") || $0.contains("P-384") }, "\(answers)")
        #expect(answers[1].first?.hasPrefix("301 https://127.0.0.1:PORT/x") ?? false, "\(answers)")
    }

    /// `crt-list`: the certificate each name gets (a line's SNI filters replace its certificate's names, `!name`
    /// takes one away, the first line is the default), beside HAProxy 2.6 with openssl s_client; a line's options in
    /// brackets are refused here.
    @Test func crtListChoosesCertificatesAsHAProxy() throws {
        let c = try Certificates()
        let list = c.dir.file("sites.crt-list")
        try """
            # the default first
            \(c.folder)/10-site.pem
            \(c.folder)/20-b.pem\tapi.test   *.wild.test !b.example.test

            \(c.folder)/10-site.pem other.test

            """.write(toFile: list, atomically: true, encoding: .utf8)
        var answers: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            try """
                defaults
                    mode http
                    timeout client 5s
                    timeout server 5s
                    timeout connect 1s
                frontend fe
                    bind 127.0.0.1:\(port) ssl crt-list \(list)
                    http-request return status 200

                """.write(toFile: c.dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: c.dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            var said: [String] = []
            for name in ["localhost", "api.test", "y.wild.test", "b.example.test", "other.test", "unknown.test"] {
                let hello = try Peers.run(
                    try Peers.find("openssl"), ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", name],
                    stdin: Data(), timeout: 10)
                let subject = String(decoding: hello.stdout, as: UTF8.self).split(separator: "\n")
                    .first { $0.hasPrefix("subject=") }.map(String.init) ?? "no certificate"
                said.append("\(name): \(subject)")
            }
            answers[who] = said
        }
        expectSameSides(answers)
        #expect(answers["proxy"]?.contains("api.test: subject=CN = b.example.test") == true, "\(answers)")
        // Options per line are refused, with the file's line.
        try "\(c.folder)/10-site.pem [alpn h2,http/1.1] site.test\n".write(toFile: list, atomically: true, encoding: .utf8)
        let verdict = try Self.loadVerdicts(bind: "ssl crt-list \(list)", in: c.dir)
        #expect(verdict.haproxy && !verdict.proxy && verdict.said.contains("the options in brackets on line 1"), "\(verdict)")
        // A list cut short (its last line without LF), or naming a file that is not there: refused by both.
        for text in ["\(c.folder)/10-site.pem site.test", "\(c.dir.file("missing.pem"))\n"] {
            try text.write(toFile: list, atomically: true, encoding: .utf8)
            let refused = try Self.loadVerdicts(bind: "ssl crt-list \(list)", in: c.dir)
            #expect(!refused.haproxy && !refused.proxy && refused.said.contains("check.cfg:7"), "\(refused)")
        }
        #expect(
            try Self.loadVerdicts(bind: "ssl crt-list \(c.dir.file("nolist"))", in: c.dir).said.contains(
                "'crt-list' : cannot open file"))
    }

    /// `prefer-client-ciphers`: HAProxy and the proxy take the client's order among the allowed ciphers (openssl
    /// s_client offering AES-128 before AES-256, against a bind that lists AES-256 first).
    @Test func preferClientCiphersChoosesAsHAProxyChooses() throws {
        let c = try Certificates()
        let haproxy = try Peers.find("haproxy")
        let openssl = try Peers.find("openssl")
        var chosen: [String] = []
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            try """
            defaults
                mode http
                timeout client 2s
                timeout server 2s
                timeout connect 1s
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(c.folder) prefer-client-ciphers ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256
                default_backend be
            backend be
                server s 127.0.0.1:1

            """.write(toFile: c.dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"),
                (who == "haproxy" ? ["-db"] : []) + ["-f", c.dir.file("\(who).cfg")], logPath: c.dir.file("\(who).out"))
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            let hello = try Peers.run(
                openssl,
                [
                    "s_client", "-connect", "127.0.0.1:\(port)", "-tls1_2", "-cipher",
                    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384",
                ], stdin: Data(), timeout: 10)
            chosen.append(
                String(decoding: hello.stdout, as: UTF8.self).split(separator: "\n")
                    .first { $0.contains("Cipher is") }.map(String.init) ?? "no cipher")
        }
        #expect(chosen[0].hasSuffix("ECDHE-RSA-AES128-GCM-SHA256"), "\(chosen)")
        #expect(chosen[1] == chosen[0], "\(chosen)")
    }

    /// Session resumption with openssl s_client (`-sess_out`, then `-sess_in`), TLS 1.2 and 1.3: without options
    /// both resume; under `no-tls-tickets` (on the bind, or in `ssl-default-bind-options`) the proxy never resumes a
    /// session (each connection's ticket key dies with it) where HAProxy still resumes TLS 1.2 from its session-ID
    /// cache: the option's aim, no ticket accepted, holds in both.
    @Test(arguments: ["", "bind", "global"])
    func noTLSTicketsMeansNoTicketIsAccepted(_ placement: String) throws {
        let c = try Certificates()
        let haproxy = try Peers.find("haproxy")
        let openssl = try Peers.find("openssl")
        var resumed: [String: [String]] = [:]
        // HAProxy reads the option the same way in both places: once beside it is enough.
        for who in placement == "bind" ? ["proxy"] : ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            try """
            global
                \(placement == "global" ? "ssl-default-bind-options no-sslv3 no-tls-tickets" : "")
            defaults
                mode http
                timeout client 2s
                timeout server 2s
                timeout connect 1s
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(c.folder) \(placement == "bind" ? "no-tls-tickets" : "")
                monitor-uri /

            """.write(toFile: c.dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"),
                (who == "haproxy" ? ["-db"] : []) + ["-f", c.dir.file("\(who).cfg")], logPath: c.dir.file("\(who).out"))
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            for version in ["-tls1_2", "-tls1_3"] {
                let session = c.dir.file("\(who)\(version).session")
                // A request, so s_client reads until the answer's end (a TLS 1.3 ticket comes after the handshake).
                let request = Data("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
                var said: [String] = []
                for step in ["-sess_out", "-sess_in"] {
                    let run = try Peers.run(
                        openssl,
                        ["s_client", "-connect", "127.0.0.1:\(port)", version, "-ign_eof", step, session],
                        stdin: request, timeout: 10)
                    said.append(
                        String(decoding: run.stdout, as: UTF8.self).split(separator: "\n")
                            .first { $0.hasPrefix("New,") || $0.hasPrefix("Reused,") }
                            .map { String($0.prefix { $0 != "," }) } ?? "no session")
                }
                resumed[who, default: []].append(said.joined(separator: "→"))
            }
        }
        if placement.isEmpty {
            #expect(resumed["haproxy"] == ["New→Reused", "New→Reused"], "\(resumed)")
            #expect(resumed["proxy"] == resumed["haproxy"], "\(resumed)")
        } else {
            if placement == "global" {
                #expect(resumed["haproxy"]?.first == "New→Reused", "HAProxy resumes from its cache: \(resumed)")
            }
            #expect(resumed["proxy"] == ["New→New", "New→New"], "\(resumed)")
        }
    }

    /// A TLS bind without a certificate, a `crt` that does not exist, a certificate without its key: refused by both
    /// with the file and line.
    @Test func brokenCertificatesAreRefusedAsHAProxyRefusesThem() throws {
        let c = try Certificates()
        let (certOnly, _) = try c.certs.issue("nokey", commonName: "nokey")
        // RHEL's `PROFILE=SYSTEM`: a cipher list neither Debian's OpenSSL nor BoringSSL knows (swift-nio-ssl would
        // stop the process on it: it is an alert here).
        for bind in [
            "ssl", "ssl crt \(c.dir.file("missing.pem"))", "ssl crt \(certOnly)", "ssl crt \(c.folder)",
            "ssl crt \(c.folder) ciphers PROFILE=SYSTEM", "ssl crt \(c.folder) ciphers ECDHE+AESGCM:!aNULL",
            // A list cut short (Debian's stock file, in the corpus): OpenSSL skips a rule with a stray character
            // after a name and uses the rest, and refuses one that starts with it, or a list left empty.
            "ssl crt \(c.folder) ciphers ECDH+AESGCM:DH+AE$", "ssl crt \(c.folder) ciphers ECDH+AESGCM:$DH",
            "ssl crt \(c.folder) ciphers D#H",
            // No version left; an ALPN name longer than 255 bytes (swift-nio-ssl would stop the process on it).
            "ssl crt \(c.folder) ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.2",
            "ssl crt \(c.folder) alpn \(String(repeating: "x", count: 300)),http/1.1",
        ] {
            let (theirs, ours, said) = try Self.loadVerdicts(bind: bind, in: c.dir)
            #expect(theirs == ours, "\(bind): \(said)")
            if !theirs { #expect(said.contains("check.cfg:7"), "\(bind): \(said)") }
            if bind.hasSuffix("AE$") { #expect(said.contains("the cipher rule 'DH+AE$' is not well formed"), "\(said)") }
        }
    }

    /// `haproxy -c` and `proxy -c` on a frontend (line 7: its bind, with `bind` added) and a backend (line 10: its
    /// server, with `server` added): whether each accepts it, and what the proxy said.
    static func loadVerdicts(bind: String = "", server: String = "", in dir: TemporaryDirectory) throws
        -> (haproxy: Bool, proxy: Bool, said: String)
    {
        try """
        defaults
            mode http
            timeout client 1s
            timeout server 1s
            timeout connect 1s
        frontend fe
            bind 127.0.0.1:1 \(bind)
            default_backend be
        backend be
            server s 127.0.0.1:2 \(server)

        """.write(toFile: dir.file("check.cfg"), atomically: true, encoding: .utf8)
        let theirs = try Peers.run(try Peers.find("haproxy"), ["-c", "-f", dir.file("check.cfg")])
        let ours = try Peers.run(try Products.path("proxy"), ["-c", "-f", dir.file("check.cfg")])
        return (theirs.status == 0, ours.status == 0, String(decoding: ours.stdout + ours.stderr, as: UTF8.self))
    }
}
