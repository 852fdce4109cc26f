import Foundation
import TestSupport
import Testing

/// `proxy -c` beside Debian's `haproxy -c` on the same files: both accept or both refuse.
@Suite("proxy -c against real haproxy -c")
struct ProxyConfigInteropTests {
    static let accepted = [
        "listen l\n  bind 127.0.0.1:3307\n  mode tcp\n  server s 10.0.0.1:8066 check port 48700 inter 2s rise 2 fall 3\n",
        "defaults\n  mode http\n  timeout connect 5s\n  timeout client 1m\n  timeout server 1m\n"
            + "frontend f\n  bind :8080\n  default_backend b\nbackend b\n  balance leastconn\n"
            + "  server a 10.0.0.1:80 weight 0\n  server b 10.0.0.2:80 backup\n",
        "global\n  log /dev/log local0 notice\n  log 127.0.0.1:514 len 2048 format rfc5424 local1 info err\n"
            + "listen s\n  bind :48800\n  mode http\n  stats uri /admin-status\n  stats auth admin:admin\n",
        // A warning, not an alert, in both: the backend cannot bind.
        "backend b\n  bind :80\n",
    ]

    static let refused = [
        "globl\n  daemon\n",
        "global\n  log 127.0.0.1:99999 local0\n",
        "global\n  log 127.0.0.1 local9\n",
        "frontend f\n  bind :80\n  bogus x\n  default_backend b\nbackend b\n",
        "frontend f\n  bind :80\n  server s 1.1.1.1:80\n",
        "listen l\n  bind :80\n  server s 10.0.0.1:80 weight 300\n",
        "defaults\n  timeout connect 5x\n",
        "defaults\n  timeout connect 5 s\n",
        "frontend f\n  bind :80\n  default_backend nope\n",
        "listen l\n  bind :80\n  balance fastest\n",
        "listen l\n  bind :80\n  option httpchk \"OPTIONS\n",
        "listen l\n  bind :80\n  server s 10.0.0.1:80 chek\n",
    ]

    func check(_ text: String) throws -> (ours: Int32, theirs: Int32, said: String) {
        let haproxy = try Peers.find("haproxy")
        let proxy = try Products.path("proxy")
        let dir = try TemporaryDirectory(prefix: "proxy-c")
        try text.write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
        let ours = try Peers.run(proxy, ["-c", "-f", dir.file("haproxy.cfg")])
        let theirs = try Peers.run(haproxy, ["-c", "-f", dir.file("haproxy.cfg")])
        return (ours.status, theirs.status, String(decoding: ours.stdout + ours.stderr, as: UTF8.self))
    }

    @Test(arguments: accepted)
    func bothAccept(_ text: String) throws {
        let r = try check(text)
        #expect(r.theirs == 0, "haproxy refuses it")
        #expect(r.ours == 0 && r.said.contains("Configuration file is valid"), "\(r.said)")
    }

    @Test(arguments: refused)
    func bothRefuseWithFileAndLine(_ text: String) throws {
        let r = try check(text)
        #expect(r.theirs != 0, "haproxy accepts it")
        #expect(r.ours == 1, "\(r.said)")
        #expect(r.said.contains("[ALERT] parsing [") && r.said.contains("haproxy.cfg:"), "\(r.said)")
        #expect(r.said.contains("Fatal errors found in configuration."))
    }

    @Test func theSeedsFileIsValidWhereHAProxy26RefusesOnlyItsNbproc() throws {
        let seed = try String(contentsOfFile: Products.packageRoot + "/conf/haproxy.cfg", encoding: .utf8)
        let r = try check(seed)
        #expect(r.ours == 0, "\(r.said)")
        #expect(r.said.contains("[WARNING] parsing [") && r.said.contains("nbproc"))
        #expect(r.theirs != 0, "Debian's HAProxy 2.6 refuses nbproc (removed in 2.5)")
        let withoutNbproc = try check(seed.replacingOccurrences(of: "nbproc 1", with: ""))
        #expect(withoutNbproc.theirs == 0 && withoutNbproc.ours == 0)
    }
}
