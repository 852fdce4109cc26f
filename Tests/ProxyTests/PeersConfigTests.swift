import LogCore
import Testing

@testable import Proxy

/// `peers` sections as HAProxy 2.6 reads them, with HAProxy's messages (checked with `haproxy -c`), and the two
/// places this build refuses what HAProxy runs with a table left unshared.
@Suite("Peers sections")
struct PeersConfigTests {
    static let front = """
        defaults
            mode http
            timeout client 1s
            timeout server 1s
            timeout connect 1s
        frontend f
            bind 127.0.0.1:18080
            http-request track-sc0 src table b

        """

    func parse(_ text: String, localPeer: String? = "lb1") throws(ConfigProblems) -> ProxyConfiguration {
        try HAProxyConfigParser.parse(text: Self.front + text, localPeer: localPeer)
    }

    func alerts(_ text: String, localPeer: String? = "lb1") -> [String] {
        do {
            _ = try parse(text, localPeer: localPeer)
            return []
        } catch {
            return error.alerts.map { "\($0.location.line): \($0.message)" }
        }
    }

    @Test func peerLinesNameTheLocalPeerAndTheOthers() throws {
        let c = try parse(
            """
            peers mesh
                peer lb1 127.0.0.1:10000
                peer lb2 10.0.0.2:10000
            backend b
                stick-table type ip size 1m expire 1h store http_req_rate(10s) peers mesh

            """)
        let mesh = try #require(c.peers.first)
        #expect(mesh.local?.name == "lb1" && mesh.remotes.map(\.name) == ["lb2"])
        #expect(mesh.listenAddress?.host == "127.0.0.1" && mesh.listenAddress?.port == 10_000)
        #expect(mesh.remotes.first?.host == "10.0.0.2" && mesh.remotes.first?.port == 10_000)
        #expect(c.stickTables["b"]?.peers == "mesh")
        #expect(c.localPeer == "lb1")
    }

    @Test func theBindFormAndTablesDeclaredInTheSection() throws {
        let c = try parse(
            """
            peers mesh
                bind 127.0.0.1:10000
                server lb1
                server lb2 127.0.0.1:10001
                table paths type string len 8 size 1k store gpc0
            backend b
                stick-table type ip size 1k
                http-request track-sc1 path table mesh/paths

            """)
        let mesh = try #require(c.peers.first)
        #expect(mesh.local?.name == "lb1" && mesh.local?.host == nil)
        #expect(mesh.listenAddress?.port == 10_000)
        let table = try #require(c.stickTables["mesh/paths"])
        #expect(table.sharedName == "paths" && table.peers == "mesh" && table.wireKeySize == 9)
        #expect(c.stickTableList.map(\.name) == ["b", "mesh/paths"])
    }

    @Test func localpeerNamesThisProcessUnlessMinusLDoes() throws {
        let text = """
            peers mesh
                peer lb1 127.0.0.1:10000
                peer lb2 127.0.0.1:10001
            backend b
                stick-table type ip size 1k peers mesh

            """
        let named = try HAProxyConfigParser.parse(text: "global\n    localpeer lb2\n" + Self.front + text)
        #expect(named.peers.first?.local?.name == "lb2")
        let overridden = try HAProxyConfigParser.parse(text: "global\n    localpeer lb2\n" + Self.front + text, localPeer: "lb1")
        #expect(overridden.peers.first?.local?.name == "lb1")
        #expect(
            overridden.warnings.map(\.message) == [
                "'localpeer' ignored since it is already set by using the '-L' command line argument."
            ])
    }

    @Test func haproxysAlertsForWhatItRefuses() {
        #expect(
            alerts("backend b\n    stick-table type ip size 1k peers nope\n")
                == ["10: Proxy 'b': unable to find sync peers 'nope'."])
        #expect(
            alerts("peers p\n    peer lb1 127.0.0.1:9\n    bind :9\nbackend b\n    stick-table type ip size 1k\n")
                == ["11: mixing \"peer\" and \"bind\" line is forbidden"])
        #expect(
            alerts("peers p\n    peer lb1 127.0.0.1:9\n    foo\nbackend b\n    stick-table type ip size 1k\n")
                == ["11: unknown keyword 'foo' in 'peers' section"])
        #expect(
            alerts("peers p\n    peer lb1 127.0.0.1:9\npeers p\n    peer lb1 127.0.0.1:9\nbackend b\n    stick-table type ip size 1k\n").first
                == "11: peers section 'p' has the same name as another peers section declared at haproxy.cfg:9.")
    }

    @Test func aSharedTableWithoutThisProcessInItsSectionIsRefused() {
        // HAProxy warns "Removing incomplete section" and runs the table unshared.
        #expect(
            alerts("peers p\n    peer lb9 127.0.0.1:9\nbackend b\n    stick-table type ip size 1k peers p\n")
                == [
                    "12: Proxy 'b': unable to find local peer 'lb1' in peers section 'p' (its table would not be "
                        + "shared: name this process with 'localpeer' or -L)."
                ])
        #expect(
            alerts(
                "peers p\n    peer lb9 127.0.0.1:9\n    table t type ip size 1k\nbackend b\n    stick-table type ip size 1k\n"
                    + "    http-request track-sc1 src table p/t\n")
                == [
                    "9: peers section 'p': no peer named 'lb1', so its tables would not be shared: name this process "
                        + "with 'localpeer' or -L."
                ])
    }

    @Test func aSectionNoTableUsesAndWithoutThisProcessIsRemovedWithHAProxysWarning() throws {
        let c = try parse("peers p\n    peer lb9 127.0.0.1:9\nbackend b\n    stick-table type ip size 1k\n")
        #expect(c.warnings.map(\.message) == ["Removing incomplete section 'peers p' (no peer named 'lb1')."])
        // Its own tables, used by no rule, too.
        let unused = try parse("peers p\n    peer lb9 127.0.0.1:9\n    table t type ip size 1k\nbackend b\n    stick-table type ip size 1k\n")
        #expect(unused.warnings.map(\.message) == ["Removing incomplete section 'peers p' (no peer named 'lb1')."])
    }

    @Test func aDisabledSectionSharesNothing() throws {
        let c = try parse(
            "peers p\n    disabled\n    peer lb1 127.0.0.1:9\nbackend b\n    stick-table type ip size 1k peers p\n")
        #expect(c.stickTables["b"]?.peers == nil)
    }

    @Test func optionsOnPeersLinesAreRefusedAsThisBuildSpeaksPlainTCP() {
        let refused = alerts("peers p\n    peer lb1 127.0.0.1:9 ssl\nbackend b\n    stick-table type ip size 1k\n")
        #expect(refused.count == 1 && refused.first?.hasPrefix("10: 'peer lb1': the option 'ssl' is not carried out") == true, "\(refused)")
    }

    @Test func peersOnPublicAddressesAreRefused() {
        let refused = alerts("peers p\n    peer lb1 10.0.0.1:9\n    peer lb2 8.8.8.8:9\nbackend b\n    stick-table type ip size 1k peers p\n")
        #expect(refused.count == 1 && refused.first?.hasPrefix("11: peers section 'p': peer 'lb2' is at 8.8.8.8, a public address") == true, "\(refused)")
        for host in ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "100.64.0.1", "169.254.0.1", "192.0.2.7", "::1", "fd00::1", "fe80::1", "2001:db8::1", "db1.internal"] {
            #expect(!HAProxyConfigParser.isPublicAddress(host), "\(host)")
        }
        for host in ["8.8.8.8", "172.32.0.1", "2a00:1450::1", "1.1.1.1"] {
            #expect(HAProxyConfigParser.isPublicAddress(host), "\(host)")
        }
    }
}
