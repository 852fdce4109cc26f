import Foundation
import SyslogProtocol
import TestSupport
import Testing

@testable import Proxy

@Suite("haproxy.cfg")
struct ConfigTests {
    @Test func theSeedsFileLoadsAsWritten() throws {
        let c = try HAProxyConfigParser.parse(files: [Products.packageRoot + "/conf/haproxy.cfg"])
        #expect(
            c.global.logs == [
                LogTarget(
                    address: .udp(host: "127.0.0.1", port: 514), maxLength: 1024, format: nil, facility: .local0,
                    maxLevel: .informational, minLevel: .emergency)
            ])
        #expect(c.global.maxconn == 4096 && c.global.daemon)
        #expect(c.global.user == "haproxy" && c.global.group == "haproxy" && c.global.chroot == "/usr/share/haproxy")
        #expect(c.global.node == "liuyazhuang135" && c.global.description == "liuyazhuang135")
        #expect(c.proxies.map(\.name) == ["admin_stats", "mycat_servers"])
        let stats = try #require(c.proxy(named: "admin_stats"))
        #expect(stats.kind == .listen && stats.binds == [BindAddress(host: nil, port: 48800)])
        #expect(stats.settings.mode == .http && stats.settings.option("httplog") && stats.settings.logGlobal)
        #expect(stats.stats.enabled && stats.stats.uri == "/admin-status")
        #expect(stats.stats.credentials.map { "\($0.user):\($0.password)" } == ["admin:admin"])
        #expect(stats.settings.retries == 3 && stats.settings.option("redispatch") && stats.settings.maxconn == 2000)
        #expect(stats.settings.timeouts.connect == .milliseconds(5000))
        #expect(stats.settings.timeouts.client == .milliseconds(50000))
        let mycat = try #require(c.proxy(named: "mycat_servers"))
        #expect(mycat.settings.mode == .tcp && mycat.settings.option("tcplog") && !mycat.settings.option("httplog"))
        #expect(mycat.settings.option("tcpka") && mycat.settings.balance == .roundrobin)
        #expect(
            mycat.settings.httpCheck
                == HTTPCheck(method: "OPTIONS", uri: "*", version: "HTTP/1.1\r\nHost: www"))
        #expect(mycat.servers.map(\.name) == ["mycat_01", "mycat_02"])
        let s1 = mycat.servers[0]
        #expect(s1.host == "192.168.209.133" && s1.port == 8066 && s1.check && s1.checkPort == 48700)
        #expect(s1.inter == .milliseconds(2000) && s1.rise == 2 && s1.fall == 3 && s1.weight == 10 && !s1.backup)
        #expect(
            c.warnings.map { "\($0.location.line): \($0.message.prefix(40))" } == [
                "7: nbproc is not supported any more since H",
                "35: 'option httpchk' : hiding headers or bod",
            ])
    }

    @Test(arguments: [
        ("a b\tc", ["a", "b", "c"]),
        ("  a   # comment", ["a"]),
        (#"a\ b"#, ["a b"]),
        (#"HTTP/1.1\r\nHost:\ www"#, ["HTTP/1.1\r\nHost: www"]),
        (#"'single \n # kept' x"#, [#"single \n # kept"#, "x"]),
        (#""double \t tab" ''"#, ["double \t tab", ""]),
        (##"a\#b \x41"##, ["a#b", "A"]),
        (#""${TOLLGATE_TEST_VAR}/x""#, ["set-by-test/x"]),
    ])
    func wordsAreSplitAsHAProxySplitsThem(line: String, words: [String]) throws {
        setenv("TOLLGATE_TEST_VAR", "set-by-test", 1)
        #expect(try HAProxyConfigParser.words(of: line) == words)
    }

    @Test(arguments: [
        ("5000", 5_000_000), ("5000ms", 5_000_000), ("50s", 50_000_000), ("2m", 120_000_000), ("1h", 3_600_000_000),
        ("1d", 86_400_000_000), ("250us", 250),
    ])
    func timesWithUnits(text: String, microseconds: Int64) {
        #expect(ConfigTime(text)?.microseconds == microseconds)
    }

    @Test(arguments: ["", "5 s", "1.5s", "10x", "-1", "ms"])
    func badTimes(text: String) {
        #expect(ConfigTime(text) == nil)
    }

    @Test func eachDefaultsSectionAppliesToTheProxiesAfterIt() throws {
        let c = try HAProxyConfigParser.parse(
            text: """
                defaults
                    mode http
                    timeout connect 1s
                    option httplog
                frontend web
                    bind 127.0.0.1:8080,[::1]:8081
                    default_backend app
                backend app
                    balance leastconn
                    server a 10.0.0.1:80 maxconn 50
                    server b app-2.internal:80 backup
                defaults
                    mode tcp
                listen db
                    bind :3307-3308
                    no option tcplog
                    server m ipv6.example:3306 check inter 1s fastinter 200ms downinter 5s rise 1 fall 2
                """)
        let web = try #require(c.proxy(named: "web"))
        #expect(web.settings.mode == .http && web.settings.timeouts.connect == .milliseconds(1000))
        #expect(web.binds == [BindAddress(host: "127.0.0.1", port: 8080), BindAddress(host: "::1", port: 8081)])
        let app = try #require(c.proxy(named: "app"))
        #expect(app.settings.balance == .leastconn && app.servers[0].maxconn == 50 && app.servers[1].backup)
        let db = try #require(c.proxy(named: "db"))
        #expect(db.settings.mode == .tcp && db.settings.timeouts.connect == nil, "a new defaults starts afresh")
        #expect(db.binds.map(\.port) == [3307, 3308])
        #expect(db.servers[0].fastinter == .milliseconds(200) && db.servers[0].downinter == .milliseconds(5000))
        #expect(db.settings.options["tcplog"] == false)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let text: String
        let line: Int
        let message: String
        var testDescription: String { message }
    }

    static let bad: [Bad] = [
        Bad(text: "globl\n  daemon", line: 1, message: "unknown keyword 'globl' out of section."),
        Bad(
            text: "global\n  maxconn lots", line: 2,
            message: "'maxconn' expects an integer argument between 1 and 2147483647, not 'lots'."),
        Bad(
            text: "global\n  log 127.0.0.1:99999 local0", line: 2, message: "'log' : invalid address '127.0.0.1:99999'."
        ),
        Bad(text: "global\n  log 127.0.0.1 local9", line: 2, message: "unknown log facility 'local9'"),
        Bad(text: "global\n  log 127.0.0.1 local0 loud", line: 2, message: "unknown optional log level 'loud'"),
        Bad(text: "global\n  frobnicate", line: 2, message: "unknown keyword 'frobnicate' in 'global' section"),
        Bad(text: "defaults\n  mode udp", line: 2, message: "unknown proxy mode 'udp'."),
        Bad(
            text: "defaults\n  timeout connect 5 s", line: 2,
            message: "'timeout connect' : unexpected extra argument 's' after value '5'."),
        Bad(
            text: "defaults\n  timeout connect 5x", line: 2,
            message: "'timeout connect' : unexpected character in '5x' (a number and us, ms, s, m, h or d)."),
        Bad(text: "defaults\n  bind :80", line: 2, message: "'bind' not allowed in 'defaults' section."),
        Bad(
            text: "frontend f\n  bind :80\n  server s 1.1.1.1:80", line: 3,
            message: "'server' not allowed because frontend 'f' has no backend capability."),
        Bad(
            text: "listen l\n  bind 300.1.1.1:80", line: 2,
            message: "'bind' : invalid address: '300.1.1.1:80' (expected [address]:port)"),
        Bad(
            text: "listen l\n  bind :80\n  server s 10.0.0.1:80 weight 300", line: 3,
            message: "'server s' : 'weight' expects an integer between 0 and 256, not '300'."),
        Bad(
            text: "listen l\n  bind :80\n  server s 10.0.0.1:80 inter soon", line: 3,
            message: "'server s' : 'inter' expects a positive time, not 'soon'."),
        Bad(
            text: "listen l\n  bind :80\n  server s 10.0.0.1:80 chek", line: 3,
            message: "'server s' unknown keyword 'chek'."),
        Bad(
            text: "listen l\n  bind :80\n  balance fastest", line: 3,
            message: "'balance' : unknown balancing algorithm 'fastest'."),
        Bad(
            text: "frontend f\n  bind :80\n  default_backend nope", line: 1,
            message: "frontend 'f' : unable to find required default_backend: 'nope'."),
        Bad(
            text: "frontend f\n  mode tcp", line: 1,
            message: "frontend 'f' has no 'bind' directive. Please declare it as a backend if this was intended."),
        Bad(
            text: "listen l\n  bind :80\n  option httpchk \"OPTIONS", line: 3,
            message: "unmatched double quote in '  option httpchk \"OPTIONS'"),
        Bad(
            text: "backend a\nbackend a", line: 2,
            message: "backend 'a' has the same name as backend 'a' declared at haproxy.cfg:1."),
    ]

    @Test("alerts name the file and line", arguments: bad)
    func alerts(_ b: Bad) {
        do {
            _ = try HAProxyConfigParser.parse(text: b.text)
            Issue.record("accepted: \(b.text)")
        } catch {
            #expect(error.alerts.first?.location == ConfigLocation(file: "haproxy.cfg", line: b.line), "\(error)")
            #expect(error.alerts.first?.message == b.message)
        }
    }

    @Test func keywordsThisBuildDoesNotCarryOutAreWarningsNamingThem() throws {
        let c = try HAProxyConfigParser.parse(
            text: """
                global
                    tune.bufsize 32768
                    stats socket /run/haproxy.sock mode 660
                userlist admins
                    user bob password x
                frontend f
                    bind :80 ssl crt /etc/x.pem
                    option forwardfor
                    option http-use-htx
                    acl api path_beg /api
                    acl odd path_reg ^/x
                    use_backend b if api
                    http-request redirect location /
                    default_backend b
                backend b
                    server s 10.0.0.1:80 check send-proxy slowstart 10s
                """)
        #expect(
            c.warnings.map { "\($0.location.line): \($0.message)" } == [
                "2: 'tune.bufsize' is not supported by this build and is ignored.",
                "3: 'stats socket' (the runtime API) is not supported by this build and is ignored.",
                "4: section 'userlist' is not supported by this build and is ignored.",
                "7: bind options 'ssl crt /etc/x.pem' are not supported by this build and are ignored.",
                "9: 'option http-use-htx' is not supported by this build and is ignored.",
                "11: ACL criterion 'path_reg' is not supported by this build: the rule using it never matches.",
                "13: 'http-request redirect' is not supported by this build and is ignored.",
                "16: 'server s' : 'send-proxy' is not supported by this build and is ignored.",
                "16: 'server s' : 'slowstart' is not supported by this build and is ignored.",
            ])
        #expect(c.proxy(named: "b")?.servers.first?.check == true)
    }
}
