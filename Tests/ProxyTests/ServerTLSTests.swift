import Foundation
import NIOSSL
import TestSupport
import Testing

@testable import Proxy

/// TLS to servers as HAProxy 2.6 reads and checks it, without a connection: the `sni` expressions taken, the names
/// a certificate answers to, what a `server` line inherits (global defaults, `default-server`), and when checks
/// are TLS.
@Suite("TLS to servers, read and matched")
struct ServerTLSTests {
    @Test func sniExpressions() {
        #expect(HAProxyConfigParser.serverSNI("str(api.internal)") == .fixed("api.internal"))
        #expect(HAProxyConfigParser.serverSNI("req.hdr(Host)") == .requestHeader("host"))
        #expect(HAProxyConfigParser.serverSNI("hdr(host)") == .requestHeader("host"))
        #expect(HAProxyConfigParser.serverSNI("req.fhdr(x-sni)") == .requestHeader("x-sni"))
        #expect(HAProxyConfigParser.serverSNI("ssl_fc_sni") == .clientSNI)
        for refused in ["ssl_fc_sni,lower", "req.hdr(host),lower", "foo(bar)", "str()", "api.internal", "str(a,b)"] {
            #expect(HAProxyConfigParser.serverSNI(refused) == nil, "\(refused)")
        }
    }

    @Test func onlyHostNamesAreSentAsSNI() {
        #expect(ServerTLSClient.usableSNI("api.internal") == "api.internal")
        for unusable in ["", " ", "127.0.0.1", "[::1]", "example.com:8443", "::1"] {
            #expect(ServerTLSClient.usableSNI(unusable) == nil, "\(unusable)")
        }
    }

    @Test func certificateNamesAsHAProxyMatchesThem() throws {
        let dir = try TemporaryDirectory(prefix: "server-tls-names")
        let certs = try TestCertificates(in: dir.path)
        let (withNames, _) = try certs.issue(
            "names", commonName: "cn.internal", dnsNames: ["api.internal", "*.wild.internal"])
        let leaf = try #require(try NIOSSLCertificate.fromPEMFile(withNames).first)
        for name in ["api.internal", "API.Internal", "x.wild.internal"] {
            #expect(ServerTLSClient.certificate(leaf, matches: name), "\(name)")
        }
        // The CN does not count when there are DNS names; a wildcard covers one label, not the bare domain.
        for name in ["cn.internal", "a.b.wild.internal", "wild.internal", ".wild.internal", "other.internal"] {
            #expect(!ServerTLSClient.certificate(leaf, matches: name), "\(name)")
        }
        let (cnOnly, _) = try certs.issue("cn", commonName: "only.internal")
        let cnLeaf = try #require(try NIOSSLCertificate.fromPEMFile(cnOnly).first)
        #expect(ServerTLSClient.certificate(cnLeaf, matches: "only.internal"))
        #expect(!ServerTLSClient.certificate(cnLeaf, matches: "other.internal"))
    }

    @Test func serversInheritGlobalDefaultsAndDefaultServer() throws {
        let configuration = try HAProxyConfigParser.parse(
            text: """
                global
                    ssl-server-verify none
                    ssl-default-server-options no-sslv3 no-tlsv10 no-tlsv11 no-tls-tickets
                    ssl-default-server-ciphers ECDHE-RSA-AES128-GCM-SHA256
                defaults
                    mode http
                    timeout connect 1s
                    timeout client 1s
                    timeout server 1s
                backend b
                    default-server ssl check
                    server a 10.0.0.1:443
                    server b 10.0.0.2:443 port 8443 ssl-max-ver TLSv1.2
                    server c 10.0.0.3:80 no-ssl check-ssl port 8443 verify required ca-file @system-ca

                """)
        let servers = try #require(configuration.proxy(named: "b")).servers
        #expect(servers.map(\.tls.enabled) == [true, true, false])
        #expect(servers.allSatisfy { $0.tls.options.minVersion == 12 && $0.tls.options.noTickets })
        #expect(servers.allSatisfy { $0.tls.options.ciphers == "ECDHE-RSA-AES128-GCM-SHA256" })
        #expect(servers[1].tls.options.maxVersion == 12 && servers[0].tls.options.maxVersion == nil)
        #expect(servers.map { $0.tls.verifies(globalRequired: configuration.global.serverVerifyRequired) } == [false, false, true])
        // Checks are TLS when the traffic is and they go to its port, or when check-ssl says so.
        let clients = try servers.map { try ServerTLSClient($0, globalVerifyRequired: false) }
        #expect(clients.map { $0?.checks } == [true, false, true])
        #expect(clients.map { $0?.traffic } == [true, true, false])
    }
}
