import Foundation
import TestSupport
import Testing

@testable import SyslogSink

/// rsyslog's stream drivers as a spec: which settings make TLS, which rsyslogd refuses, and whom each
/// authentication mode lets talk (the facts of nsd_gtls.c, nsd_ossl.c and net.c, rsyslog 8.2302).
@Suite("TLS stream drivers: settings and peer checks")
struct StreamDriverTests {
    static let files: NetstreamDefaults = {
        var d = NetstreamDefaults()
        d.caFile = "/ca.pem"
        d.certFile = "/cert.pem"
        d.keyFile = "/key.pem"
        return d
    }()

    func settings(_ name: String? = "gtls", mode: String? = "1", auth: String? = nil, peers: [String]? = nil)
        -> StreamDriverSettings
    {
        var s = StreamDriverSettings()
        s.name = name
        s.mode = mode
        s.authMode = auth
        s.permittedPeers = peers
        return s
    }

    @Test func modeZeroIsPlainTCPWhateverTheDriver() throws {
        #expect(try settings(mode: "0").resolve(Self.files, role: .server).get() == nil)
        #expect(try settings(mode: nil).resolve(Self.files, role: .client).get() == nil)
        #expect(try settings("ptcp", mode: "0").resolve(Self.files, role: .server).get() == nil)
    }

    @Test func theDefaultAuthenticationModeIsX509Name() throws {
        let tls = try settings(peers: ["*.example.net"]).resolve(Self.files, role: .server).get()
        #expect(tls?.authMode == .name && tls?.driver == .gtls && tls?.caFile == "/ca.pem")
    }

    @Test func theGlobalDefaultDriverIsUsedWhenTheObjectNamesNone() throws {
        var d = Self.files
        d.driver = "ossl"
        let tls = try settings(nil, auth: "anon").resolve(d, role: .client).get()
        #expect(tls?.driver == .ossl && tls?.authMode == .anon)
    }

    @Test func whatRsyslogdRefusesIsAnError() {
        func error(_ s: StreamDriverSettings, _ d: NetstreamDefaults = StreamDriverTests.files, role: StreamDriverSettings.Role = .server)
            -> String
        {
            if case .failure(let e) = s.resolve(d, role: role) { return e.description }
            return ""
        }
        #expect(error(settings("ptcp")) == "driver mode 1 not supported by ptcp netstream driver")
        #expect(error(settings(nil)) == "driver mode 1 not supported by ptcp netstream driver")
        #expect(error(settings(mode: "2")) == "driver mode 2 not supported by gtls netstream driver")
        #expect(error(settings(auth: "x509/names")).hasPrefix("authentication mode 'x509/names' not supported"))
        #expect(error(settings(auth: "anon", peers: ["a"])).contains("permitted peers are not used"))
        #expect(error(settings(auth: "x509/certvalid", peers: ["a"])).contains("permitted peers are not used"))
        #expect(error(settings("tls")).contains("'tls' is not known"))
        var noCertificate = Self.files
        noCertificate.certFile = nil
        noCertificate.keyFile = nil
        #expect(error(settings(auth: "anon"), noCertificate).contains("needs a certificate and key"))
        #expect(error(settings(auth: "anon"), noCertificate, role: .client) == "", "a client may go without one")
        var noCA = Self.files
        noCA.caFile = nil
        #expect(error(settings(auth: "x509/certvalid"), noCA, role: .client).contains("checks certificates against a CA"))
        var ossl = settings("ossl", peers: ["a"])
        ossl.prioritizeSAN = true
        #expect(error(ossl).contains("not supported by the ossl netstream driver"))
    }

    @Test func anAuthenticationModeIsReadInAnyCase() throws {
        #expect(try settings(auth: "X509/CertValid").resolve(Self.files, role: .server).get()?.authMode == .certValid)
    }

    // MARK: Permitted peers, as net.c matches them

    @Test(arguments: [
        ("*.example.net", "a.example.net", true),
        ("*.example.net", "example.net", false),
        ("*.example.net", "a.b.example.net", false),
        ("*.example.net", "A.example.net", true),
        ("*.example.net", "a.EXAMPLE.net", false),
        ("web*.example.net", "web01.example.net", true),
        ("web*.example.net", "db01.example.net", false),
        ("*01.example.net", "web01.example.net", true),
        ("w*b.example.net", "web.example.net", false),
        ("*", "localhost", true),
        ("*", "a.b", false),
        ("logs.example.net", "logs.example.net", true),
        ("logs.example.net", "Logs.example.net", false),
        ("*.example.net", "*.example.net", true),
    ])
    func permittedPeerPatterns(pattern: String, name: String, matches: Bool) {
        #expect(PeerPattern(pattern).matches(name) == matches, "\(pattern) ~ \(name)")
    }

    // MARK: Who may talk

    func gtls(_ auth: StreamTLS.AuthMode, _ peers: [String], role: StreamDriverSettings.Role = .server,
              target: String? = nil, driver: StreamTLS.Driver = .gtls) -> PeerAuthorization
    {
        PeerAuthorization(StreamTLS(driver: driver, authMode: auth, permittedPeers: peers), role: role, target: target)
    }

    let client = PeerAuthorization.Certificate(
        dnsNames: ["client.example.net"], commonNames: ["Client One"], subjectLine: "/O=Tollgate/CN=Client One",
        sha1: "SHA1:01:02", sha256: "SHA256:0A:0B", purposes: [.clientAuth])

    @Test func anonLetsAnyoneTalkAndTheOtherModesWantACertificate() {
        #expect(gtls(.anon, []).decide(nil) == .permitted)
        for mode in [StreamTLS.AuthMode.certValid, .name, .fingerprint] {
            #expect(gtls(mode, ["x"]).decide(nil) == .refused("peer did not provide a certificate, not permitted to talk to it"))
        }
        #expect(gtls(.certValid, []).decide(client) == .permitted)
    }

    @Test func gnutlsChecksTheDNSNamesThenTheCommonName() {
        #expect(gtls(.name, ["*.example.net"]).decide(client) == .permitted)
        #expect(gtls(.name, ["Client One"]).decide(client) == .permitted, "the CN, when no dNSName matched")
        var prioritized = StreamTLS(driver: .gtls, authMode: .name, permittedPeers: ["Client One"])
        prioritized.prioritizeSAN = true
        #expect(PeerAuthorization(prioritized, role: .server).decide(client) != .permitted)
        #expect(
            gtls(.name, ["*.other.net"]).decide(client)
                == .refused(
                    "peer name not authorized -  not permitted to talk to it. Names: DNSname: client.example.net; "
                        + "CN: Client One; "))
        #expect(gtls(.name, []).decide(client) != .permitted, "a listener with no permitted peer lets nobody in")
    }

    @Test func aGnutlsClientWithoutPermittedPeersComparesTheTargetExactly() {
        #expect(gtls(.name, [], role: .client, target: "client.example.net").decide(client) == .permitted)
        #expect(gtls(.name, [], role: .client, target: "CLIENT.example.net").decide(client) != .permitted)
        #expect(gtls(.name, [], role: .client, target: "127.0.0.1").decide(client) != .permitted)
    }

    @Test func opensslMatchesTheSubjectLineOrAHostTheCertificateIsValidFor() {
        #expect(gtls(.name, ["/O=Tollgate/CN=Client One"], driver: .ossl).decide(client) == .permitted)
        #expect(gtls(.name, ["CLIENT.example.net"], driver: .ossl).decide(client) == .permitted)
        #expect(gtls(.name, ["*.example.net"], driver: .ossl).decide(client) != .permitted, "no wildcard peers")
        #expect(gtls(.name, ["Client One"], driver: .ossl).decide(client) != .permitted, "no CN beside dNSNames")
        #expect(gtls(.name, [], role: .client, target: "client.example.net", driver: .ossl).decide(client) != .permitted)
        let wildcard = PeerAuthorization.Certificate(dnsNames: ["*.example.net"])
        #expect(gtls(.name, ["a.example.net"], driver: .ossl).decide(wildcard) == .permitted)
        #expect(gtls(.name, ["a.b.example.net"], driver: .ossl).decide(wildcard) != .permitted)
        #expect(gtls(.name, ["a.example.net"]).decide(wildcard) != .permitted, "gtls takes the name as written")
    }

    @Test func aFingerprintMustBeListedExactly() {
        #expect(gtls(.fingerprint, ["SHA1:01:02"]).decide(client) == .permitted)
        #expect(gtls(.fingerprint, ["SHA256:0A:0B"]).decide(client) == .permitted)
        #expect(
            gtls(.fingerprint, ["sha1:01:02"]).decide(client)
                == .refused("peer fingerprint 'SHA1:01:02' unknown - we are not permitted to talk to it"))
    }

    @Test func checkExtendedKeyPurposeWantsTheRolesPurposeWhenOneIsListed() {
        var tls = StreamTLS(driver: .gtls, authMode: .certValid)
        tls.checkExtendedKeyPurpose = true
        #expect(PeerAuthorization(tls, role: .server).decide(client) == .permitted)
        #expect(PeerAuthorization(tls, role: .client).decide(client) != .permitted, "a client certificate as a server")
        var unlisted = client
        unlisted.purposes = nil
        #expect(PeerAuthorization(tls, role: .client).decide(unlisted) == .permitted, "none listed: any purpose")
    }

    @Test func theFingerprintTextIsRsyslogs() {
        #expect(PeerAuthorization.Certificate.fingerprint("SHA1", [0x0a, 0xff, 0x00]) == "SHA1:0A:FF:00")
    }

    // MARK: rsyslog.conf

    @Test func theLegacyDirectivesGiveEveryListenerAndTheLaterForwardsTheirTLS() throws {
        let dir = try TemporaryDirectory(prefix: "tls-conf")
        for f in ["ca.pem", "cert.pem", "key.pem"] { try "x".write(toFile: dir.file(f), atomically: true, encoding: .utf8) }
        let c = try RsyslogConfigParser.parse(
            text: """
                $ModLoad imtcp
                $InputTCPServerStreamDriverMode 1
                $InputTCPServerStreamDriverAuthMode x509/name
                $InputTCPServerStreamDriverPermittedPeer *.example.net
                $InputTCPServerStreamDriverPermittedPeer localhost
                $InputTCPServerRun 6514
                *.* @@127.0.0.1:6000
                $ActionSendStreamDriverMode 1
                $ActionSendStreamDriverAuthMode anon
                *.* @@(o)127.0.0.1:6515
                $DefaultNetstreamDriverCAFile \(dir.file("ca.pem"))
                $DefaultNetstreamDriverCertFile \(dir.file("cert.pem"))
                $DefaultNetstreamDriverKeyFile \(dir.file("key.pem"))
                $DefaultNetstreamDriver gtls

                """, name: "t.conf")
        #expect(c.errors.isEmpty, "\(c.errors)")
        var expected = StreamTLS(
            driver: .gtls, authMode: .name, permittedPeers: ["*.example.net", "localhost"], caFile: dir.file("ca.pem"),
            certFile: dir.file("cert.pem"), keyFile: dir.file("key.pem"))
        #expect(c.inputs == [.tcp(address: nil, port: 6514, maxSessions: 200, tls: expected)], "the defaults come last")
        let forwards = c.rules.flatMap(\.actions).compactMap { action -> StreamTLS?? in
            guard case .forward(_, _, true, _, _, _, let driver) = action else { return nil }
            return try? driver.resolve(c.netstream, role: .client).get()
        }
        expected.authMode = .anon
        expected.permittedPeers = []
        #expect(forwards == [nil, expected], "a forward before the directives stays plain")
    }

    @Test func anInputsOwnSettingsGoOverTheModulesAndAFailingListenerIsLeftOut() throws {
        let dir = try TemporaryDirectory(prefix: "tls-conf")
        for f in ["ca.pem", "cert.pem", "key.pem"] { try "x".write(toFile: dir.file(f), atomically: true, encoding: .utf8) }
        let c = try RsyslogConfigParser.parse(
            text: """
                global(DefaultNetstreamDriverCAFile="\(dir.file("ca.pem"))" DefaultNetstreamDriverCertFile="\(dir.file("cert.pem"))"
                       DefaultNetstreamDriverKeyFile="\(dir.file("key.pem"))")
                module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")
                input(type="imtcp" port="514" name="plain" StreamDriver.Mode="0")
                input(type="imtcp" port="6514" name="secure" StreamDriver.AuthMode="x509/name" permittedPeer=["a.example.net", "b.example.net"])
                input(type="imtcp" port="6515" StreamDriver.Name="ptcp")
                *.* /var/log/all

                """, name: "t.conf")
        #expect(c.errors.map(\.location.line) == [6], "\(c.errors)")
        #expect(c.errors.first?.message.contains("driver mode 1 not supported by ptcp") ?? false)
        #expect(c.inputs.count == 2)
        #expect(c.inputs.first == .tcp(address: nil, port: 514, maxSessions: 200))
        guard case .tcp(_, 6514, _, _, let tls?) = c.inputs.last else {
            Issue.record("\(c.inputs)")
            return
        }
        #expect(tls.driver == .ossl && tls.authMode == .name && tls.permittedPeers == ["a.example.net", "b.example.net"])
        #expect(c.inputNames[c.inputs[1]] == "secure", "the input keeps its name")
    }
}
