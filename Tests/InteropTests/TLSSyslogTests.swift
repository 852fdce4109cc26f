import Foundation
import Glibc
import SyslogProtocol
import TestSupport
import Testing

/// TLS syslog (RFC 5425) against Debian's rsyslogd with its gnutls and openssl drivers, certificates made by the
/// openssl command: rsyslogd sends to the sink and to a TLS rsyslogd at once and both file the same bytes; the sink
/// refuses whom rsyslogd would refuse (a name not permitted, no certificate, another CA, plain text, a fingerprint
/// not listed) and says why; the sink forwards to a TLS rsyslogd, and refuses a collector whose name is not the
/// permitted one.
@Suite("TLS syslog beside real rsyslogd", .serialized)
struct TLSSyslogTests {
    /// The CA, the collectors' certificate (CN=localhost, logs.example.net) and a client's (client.example.net).
    struct Setup {
        let dir: TemporaryDirectory
        let certs: TestCertificates
        let collector: (certificate: String, key: String)
        let client: (certificate: String, key: String)

        init(_ name: String) throws {
            dir = try TemporaryDirectory(prefix: name)
            try FileManager.default.createDirectory(atPath: dir.file("certs"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir.file("work"), withIntermediateDirectories: true)
            certs = try TestCertificates(in: dir.file("certs"))
            collector = try certs.issue("collector", commonName: "localhost", dnsNames: ["localhost", "logs.example.net"])
            client = try certs.issue("client", commonName: "client.example.net", dnsNames: ["client.example.net"])
        }

        /// A TLS listener (imtcp) filing everything with `template`, as rsyslogd's and the sink's configuration.
        func listener(
            port: Int, file: String, driver: String = "gtls", auth: String = "x509/name",
            peers: [String] = ["*.example.net"], template: String = "RSYSLOG_FileFormat"
        ) -> String {
            """
            global(DefaultNetstreamDriverCAFile="\(certs.caFile)" DefaultNetstreamDriverCertFile="\(collector.certificate)"
                   DefaultNetstreamDriverKeyFile="\(collector.key)" workDirectory="\(dir.file("work"))")
            module(load="imtcp" StreamDriver.Name="\(driver)" StreamDriver.Mode="1" StreamDriver.AuthMode="\(auth)"
                   \(peers.isEmpty ? "" : "PermittedPeer=[" + peers.map { "\"\($0)\"" }.joined(separator: ", ") + "]"))
            input(type="imtcp" address="127.0.0.1" port="\(port)")
            *.* action(type="omfile" file="\(file)" template="\(template)")

            """
        }

        /// rsyslogd as a TLS client: what arrives on its UDP port goes to each of `targets` over TLS.
        func sender(input: Int, targets: [Int], certificate: (String, String)? = nil, octetCounted: Bool = false)
            -> String
        {
            let (cert, key) = certificate ?? client
            return """
                global(DefaultNetstreamDriverCAFile="\(certs.caFile)" DefaultNetstreamDriverCertFile="\(cert)"
                       DefaultNetstreamDriverKeyFile="\(key)" workDirectory="\(dir.file("work"))")
                module(load="imudp")
                input(type="imudp" address="127.0.0.1" port="\(input)")
                \(targets.map { """
                *.* action(type="omfwd" target="localhost" port="\($0)" protocol="tcp" StreamDriver="gtls"
                    StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="logs.example.net"
                    \(octetCounted ? "TCP_Framing=\"octet-counted\"" : "")
                    action.resumeInterval="1" action.resumeRetryCount="-1" queue.type="LinkedList")
                """ }.joined(separator: "\n"))

                """
        }

        func write(_ text: String, _ name: String) throws -> String {
            try text.write(toFile: dir.file(name), atomically: true, encoding: .utf8)
            return dir.file(name)
        }

        func rsyslogd(_ config: String, _ name: String) throws -> RunningPeer {
            try RunningPeer(
                try Peers.find("rsyslogd"), ["-n", "-f", try write(config, name + ".conf"), "-i", dir.file(name + ".pid")],
                logPath: dir.file(name + ".out"))
        }

        func sink(_ config: String, _ name: String) throws -> RunningPeer {
            try RunningPeer(
                try Products.path("syslog-sink"), ["-n", "-f", try write(config, name + ".conf"), "-i", dir.file(name + ".pid")],
                logPath: dir.file(name + ".out"))
        }
    }

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static let messages: [String] = [
        "<134>Dec  6 08:51:08 lb1 haproxy[6553]: 10.0.0.1:5 [06/Dec/2026:08:51:08.248] fe be/s 0/0/1 5 -- 1/1/0/0/0 0/0",
        "<13>1 2026-12-06T08:51:02.452387+00:00 lb2 app 6296 ID7 - over RFC 5425",
        "<86>Dec  6 08:51:09 lb1 sshd[1]: " + String(repeating: "long ", count: 800) + "end",
    ]

    /// Sends `messages` to a UDP port until `ready` says the first one arrived (the TLS connections are up), then
    /// the rest.
    static func send(to port: Int, until ready: () -> Bool) throws -> Bool {
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        let up = Peers.waitUntil(seconds: 20) {
            sender.send(Array("<13>Dec  6 08:00:00 probe: ready".utf8))
            usleep(200_000)
            return ready()
        }
        for m in messages { sender.send(Array(m.utf8)) }
        return up
    }

    @Test(arguments: ["gtls", "ossl"])
    func rsyslogdSendsOverTLSAndTheSinkFilesWhatRsyslogdFiles(driver: String) throws {
        let s = try Setup("tls-in-\(driver)")
        let theirPort = try Peers.freePort()
        var ourPort = try Peers.freePort()
        while ourPort == theirPort { ourPort = try Peers.freePort() }
        let input = try Peers.freePort(udp: true)
        // ossl matches permitted peers as host names (no wildcards): the client's own name.
        let peers = driver == "ossl" ? ["client.example.net"] : ["*.example.net"]
        let theirs = try s.rsyslogd(s.listener(port: theirPort, file: s.dir.file("theirs.log"), driver: driver, peers: peers), "theirs")
        defer { theirs.stop() }
        let ours = try s.sink(s.listener(port: ourPort, file: s.dir.file("ours.log"), driver: driver, peers: peers), "ours")
        defer { ours.stop() }
        #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: theirPort) && Peers.isListening(port: ourPort) })
        let client = try s.rsyslogd(s.sender(input: input, targets: [theirPort, ourPort]), "client")
        defer { client.stop() }
        let up = try Self.send(to: input) {
            Self.lines(s.dir.file("ours.log")).contains { $0.contains("probe: ready") }
                && Self.lines(s.dir.file("theirs.log")).contains { $0.contains("probe: ready") }
        }
        try #require(up, "\(ours.output)\n\(theirs.output)\n\(client.output)")
        #expect(Peers.waitUntil(seconds: 10) { Self.lines(s.dir.file("ours.log")).last?.hasSuffix("end") ?? false })
        #expect(Peers.waitUntil(seconds: 10) { Self.lines(s.dir.file("theirs.log")).last?.hasSuffix("end") ?? false })
        func fromFirst(_ lines: [String]) -> [String] { Array(lines.drop { !$0.contains("lb1 haproxy") }) }
        let mine = fromFirst(Self.lines(s.dir.file("ours.log")))
        #expect(mine.count == Self.messages.count, "\(mine)")
        #expect(mine == fromFirst(Self.lines(s.dir.file("theirs.log"))))
        // The listening probe's connection closes during the handshake; nobody else is refused.
        #expect(!ours.output.contains("not permitted"), "nobody refused: \(ours.output)")
    }

    /// Whom the listener refuses, each for rsyslog's reason, with nothing filed and every refusal counted.
    @Test func theSinkRefusesWhomRsyslogdRefuses() throws {
        let s = try Setup("tls-refuse")
        let port = try Peers.freePort()
        try FileManager.default.createDirectory(atPath: s.dir.file("other"), withIntermediateDirectories: true)
        let other = try TestCertificates(in: s.dir.file("other")).issue(
            "stranger", commonName: "stranger.example.net", dnsNames: ["stranger.example.net"], selfSigned: true)
        let ours = try s.sink(s.listener(port: port, file: s.dir.file("ours.log"), peers: ["*.trusted.net"]), "ours")
        #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: port) }, "\(ours.output)")

        // rsyslogd with a certificate of the CA whose name is not permitted.
        let input = try Peers.freePort(udp: true)
        let client = try s.rsyslogd(s.sender(input: input, targets: [port]), "client")
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: input))
        let named = Peers.waitUntil(seconds: 15) {
            sender.send(Array("<13>Dec  6 08:00:00 app: not permitted".utf8))
            usleep(200_000)
            return ours.output.contains("peer name not authorized")
        }
        sender.close()
        client.stop()
        #expect(named, "\(ours.output)")
        #expect(
            ours.output.contains(
                "TLS peer 127.0.0.1: peer name not authorized -  not permitted to talk to it. Names: DNSname: "
                    + "client.example.net; CN: client.example.net; "), "\(ours.output)")

        let openssl = try Peers.find("openssl")
        // No client certificate.
        _ = try Peers.run(
            openssl, ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", s.certs.caFile, "-quiet"],
            stdin: Data("<13>Dec  6 08:00:00 app: without a certificate\n".utf8), timeout: 10)
        // A certificate from another CA (self-signed).
        _ = try Peers.run(
            openssl,
            [
                "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", s.certs.caFile, "-cert", other.certificate,
                "-key", other.key, "-quiet",
            ], stdin: Data("<13>Dec  6 08:00:00 app: another CA\n".utf8), timeout: 10)
        // Plain text on the TLS port.
        let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
        _ = "<13>Dec  6 08:00:00 app: in clear text\n".withCString { Glibc.send(fd, $0, strlen($0), 0) }
        _ = Peers.readUntilClosed(fd)
        close(fd)

        #expect(
            Peers.waitUntil(seconds: 5) {
                ours.output.contains("peer did not provide a certificate, not permitted to talk to it")
                    && ours.output.contains("certificate invalid") && ours.output.contains("does not speak TLS")
            }, "\(ours.output)")
        ours.stop()
        #expect(!FileManager.default.fileExists(atPath: s.dir.file("ours.log")), "nothing refused was filed")
        let refused = ours.output.split(separator: "\n").first { $0.contains("stats: imtcp") && $0.contains("tls-refused=") }
        let count = refused.flatMap { $0.split(separator: "tls-refused=").last.flatMap { Int($0.prefix { $0.isNumber }) } }
        #expect((count ?? 0) >= 4, "\(refused.map(String.init) ?? ours.output)")
    }

    /// `x509/fingerprint`: a self-signed client whose SHA-1 (as `openssl x509 -fingerprint` prints it) is listed
    /// talks; one whose is not does not.
    @Test func aListedFingerprintTalksAndAnotherDoesNot() throws {
        let s = try Setup("tls-fingerprint")
        let port = try Peers.freePort()
        let listed = try s.certs.issue("listed", commonName: "listed", selfSigned: true)
        let unlisted = try s.certs.issue("unlisted", commonName: "unlisted", selfSigned: true)
        let ours = try s.sink(
            s.listener(
                port: port, file: s.dir.file("ours.log"), auth: "x509/fingerprint",
                peers: [try s.certs.fingerprint(listed.certificate)]), "ours")
        defer { ours.stop() }
        #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: port) }, "\(ours.output)")
        for (certificate, text) in [(unlisted, "unlisted"), (listed, "listed")] {
            let input = try Peers.freePort(udp: true)
            let client = try s.rsyslogd(s.sender(input: input, targets: [port], certificate: certificate), text)
            let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: input))
            _ = Peers.waitUntil(seconds: 10) {
                sender.send(Array("<13>Dec  6 08:00:00 app: from the \(text) one".utf8))
                usleep(200_000)
                return Self.lines(s.dir.file("ours.log")).contains { $0.contains("from the \(text) one") }
                    || text == "unlisted" && ours.output.contains("fingerprint")
            }
            sender.close()
            client.stop()
        }
        let filed = Self.lines(s.dir.file("ours.log"))
        #expect(filed.contains { $0.hasSuffix("app: from the listed one") }, "\(ours.output)")
        #expect(!filed.contains { $0.contains("unlisted") })
        #expect(ours.output.contains("peer fingerprint '\(try s.certs.fingerprint(unlisted.certificate))' unknown"), "\(ours.output)")
    }

    /// The sink forwards over TLS (`$ActionSendStreamDriver…`, octet-counted `@@(o)`) to a TLS rsyslogd, which files
    /// every message; with a permitted peer the collector's certificate does not name, or trusting another CA, nothing
    /// leaves the sink.
    @Test func theSinkForwardsOverTLSToRsyslogdAndRefusesAnotherCollector() throws {
        for (permitted, delivers, otherCA) in [
            ("logs.example.net", true, false), ("wrong.example.net", false, false), ("logs.example.net", false, true),
        ] {
            let s = try Setup("tls-out")
            // The third run trusts another CA than the collector's.
            try FileManager.default.createDirectory(atPath: s.dir.file("other"), withIntermediateDirectories: true)
            let trusted = otherCA ? try TestCertificates(in: s.dir.file("other")).caFile : s.certs.caFile
            let port = try Peers.freePort()
            let input = try Peers.freePort(udp: true)
            let collector = try s.rsyslogd(
                s.listener(port: port, file: s.dir.file("central.log"), peers: ["client.example.net"],
                           template: "RSYSLOG_TraditionalFileFormat"), "central")
            defer { collector.stop() }
            #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: port) }, "\(collector.output)")
            let ours = try s.sink(
                """
                $DefaultNetstreamDriver gtls
                $DefaultNetstreamDriverCAFile \(trusted)
                $DefaultNetstreamDriverCertFile \(s.client.certificate)
                $DefaultNetstreamDriverKeyFile \(s.client.key)
                $ModLoad imudp
                $UDPServerAddress 127.0.0.1
                $UDPServerRun \(input)
                $ActionSendStreamDriverMode 1
                $ActionSendStreamDriverAuthMode x509/name
                $ActionSendStreamDriverPermittedPeer \(permitted)
                $ActionResumeRetryCount -1
                $ActionResumeInterval 1
                *.* @@(o)localhost:\(port)

                """, "ours")
            defer { ours.stop() }
            let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: input))
            let arrived = Peers.waitUntil(seconds: delivers ? 20 : 4) {
                sender.send(Array("<13>Dec  6 08:00:00 app: through the sink".utf8))
                usleep(200_000)
                return Self.lines(s.dir.file("central.log")).contains { $0.hasSuffix("app: through the sink") }
            }
            for m in Self.messages { sender.send(Array(m.utf8)) }
            sender.close()
            if delivers {
                #expect(arrived, "\(ours.output)\n\(collector.output)")
                #expect(
                    Peers.waitUntil(seconds: 10) { Self.lines(s.dir.file("central.log")).last?.hasSuffix("end") ?? false },
                    "\(ours.output)")
                #expect(Self.lines(s.dir.file("central.log")).contains { $0.contains("lb2 app[6296]: over RFC 5425") || $0.contains("over RFC 5425") })
            } else {
                #expect(!arrived)
                let reason =
                    otherCA
                    ? "certificate invalid"
                    : "peer name not authorized -  not permitted to talk to it. Names: DNSname: localhost; "
                        + "DNSname: logs.example.net; CN: localhost; "
                #expect(ours.output.contains(reason), "\(ours.output)")
                #expect(!FileManager.default.fileExists(atPath: s.dir.file("central.log")))
            }
        }
    }
}
