import HAProxyLog
import LogCore
import Foundation
import NIOHTTP1
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
        #expect(stats.settings.mode == .http && stats.settings.option(.httplog) && stats.settings.logGlobal)
        #expect(stats.stats.enabled && stats.stats.uri == "/admin-status")
        #expect(stats.stats.credentials.map { "\($0.user):\($0.password)" } == ["admin:admin"])
        #expect(stats.settings.retries == 3 && stats.settings.option(.redispatch) && stats.settings.maxconn == 2000)
        #expect(stats.settings.timeouts.connect == .milliseconds(5000))
        #expect(stats.settings.timeouts.client == .milliseconds(50000))
        let mycat = try #require(c.proxy(named: "mycat_servers"))
        #expect(mycat.settings.mode == .tcp && mycat.settings.option(.tcplog) && !mycat.settings.option(.httplog))
        #expect(mycat.settings.option(.tcpka) && mycat.settings.balance == .roundrobin)
        #expect(
            mycat.settings.httpCheck
                == HTTPCheck(method: "OPTIONS", uri: "*", version: "HTTP/1.1\r\nHost: www"))
        #expect(mycat.servers.map(\.name) == ["mycat_01", "mycat_02"])
        let s1 = mycat.servers[0]
        #expect(s1.host == "192.168.209.133" && s1.port == 8066 && s1.check && s1.checkPort == 48700)
        #expect(s1.inter == .milliseconds(2000) && s1.rise == 2 && s1.fall == 3 && s1.weight == 10 && !s1.backup)
        #expect(
            c.warnings.map { "\($0.location.line): \($0.message.prefix(40))" } == [
                "7: 'nbproc' has no effect in this build (re",
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
        (#""$TOLLGATE_TEST_VAR:80" '$TOLLGATE_TEST_VAR'"#, ["set-by-test:80", "$TOLLGATE_TEST_VAR"]),
        (#""${TOLLGATE_UNSET_VAR-:8080}" "${TOLLGATE_TEST_VAR-:8080}""#, [":8080", "set-by-test"]),
        (#"bind "${TOLLGATE_TEST_LIST[*]}" x"#, ["bind", "a", "b", "x"]),
        (#""$.FILE:$.LINE in $.SECTION""#, ["h.cfg:7 in fe"]),
        (#"\$x "\$x" \+ a\"#, [#"\$x"#, "$x", #"\+"#, #"a\"#]),
        ("a\rb c", ["a"]),
    ])
    func wordsAreSplitAsHAProxySplitsThem(line: String, words: [String]) throws {
        setenv("TOLLGATE_TEST_VAR", "set-by-test", 1)
        setenv("TOLLGATE_TEST_LIST", "a  b", 1)
        unsetenv("TOLLGATE_UNSET_VAR")
        #expect(try HAProxyConfigWords.split(line, at: .init(file: "h.cfg", line: 7, section: "fe")) == words)
    }

    /// HAProxy's words for a line it cannot split: the problem, its position, the line and a caret under it.
    @Test(arguments: [
        (#"  bind "$1""#, "forbidden first char in environment variable name at position 10:\n  bind \"$1\"\n         ^"),
        (#"bind "${X"#, "unmatched brace in environment variable name at position 8:\n  bind \"${X\n         ^"),
        (#"bind "${X[1]}""#, "truncated or invalid word expansion sequence at position 10:\n  bind \"${X[1]}\"\n           ^"),
        (#"bind "$.NAME""#, "forbidden first char in environment variable name at position 8:\n  bind \"$.NAME\"\n         ^"),
        (#"a \x4"#, "truncated or invalid hexadecimal sequence at position 3:\n  a \\x4\n    ^"),
        ("a 'b", "unmatched quote at position 3:\n  a 'b\n    ^"),
    ])
    func linesHAProxyCannotSplit(line: String, message: String) {
        #expect(throws: HAProxyConfigWords.Failure.self) { try HAProxyConfigWords.split(line) }
        do {
            _ = try HAProxyConfigWords.split(line)
        } catch {
            #expect(error.message == message)
        }
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
                    server b 10.0.0.2:80 backup
                defaults
                    mode tcp
                listen db
                    bind :3307-3308
                    no option tcplog
                    server m [2001:db8::5]:3306 check inter 1s fastinter 200ms downinter 5s rise 1 fall 2
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
        #expect(db.settings.options[.tcplog] == false)
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
            message: "unknown server option 'chek'; did you mean 'check' maybe ?"),
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
            message: "unmatched quote at position 18:\n  option httpchk \"OPTIONS\n                 ^"),
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
            #expect(error.alerts.first?.location == SourceLocation(file: "haproxy.cfg", line: b.line), "\(error)")
            #expect(error.alerts.first?.message == b.message)
        }
    }

    /// One line of each family this build refuses, inside a configuration that is otherwise valid, and the alert
    /// it must give (file, line and wording).
    struct Refused: CustomTestStringConvertible, Sendable {
        var family: String
        /// Lines put into `frontend f` (or, starting with `global:` / `backend:` / `section:`, there).
        var line: String
        var message: String
        var testDescription: String { "\(family): \(line)" }

        var text: String {
            var global = "global\n  log 127.0.0.1 local0\n"
            var frontend = "frontend f\n  mode http\n  bind :80\n  default_backend b\n"
            var backend = "backend b\n  mode http\n  server s 10.0.0.1:80\n"
            var extra = ""
            if line.hasPrefix("global:") {
                global += "  " + line.dropFirst(7) + "\n"
            } else if line.hasPrefix("backend:") {
                backend += "  " + line.dropFirst(8) + "\n"
            } else if line.hasPrefix("section:") {
                extra = line.dropFirst(8) + "\n"
            } else {
                frontend += "  " + line + "\n"
            }
            return global + frontend + backend + extra
        }
        /// Where the line lands in `text`.
        var lineNumber: Int {
            if line.hasPrefix("global:") { return 3 }
            if line.hasPrefix("backend:") { return 10 }
            if line.hasPrefix("section:") { return 10 }
            return 7
        }
    }

    static let refused: [Refused] = [
        Refused(
            family: "TLS, a certificate that is not there", line: "bind :443 ssl crt /etc/haproxy/site.pem",
            message: "'bind :443' in section 'frontend' : unable to stat SSL certificate from file "
                + "'/etc/haproxy/site.pem' : No such file or directory."),
        Refused(
            family: "TLS 1.3 suites narrower than BoringSSL's",
            line: "global:ssl-default-bind-ciphersuites TLS_AES_256_GCM_SHA384",
            message: "'ssl-default-bind-ciphersuites' : this build's TLS (BoringSSL) always offers "
                + "TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256; a list without all "
                + "three cannot be honoured."),
        Refused(
            family: "TLS, client certificates checked against a CRL",
            line: "bind :443 ssl verify required ca-file /etc/ssl/certs crl-file /etc/ssl/certs",
            message: "'bind :443' : 'crl-file' (revoked client certificates) is not carried out by this build "
                + "(swift-nio-ssl loads no CRL): refused, because a revoked certificate would be let in."),
        Refused(
            family: "TLS", line: "global:ssl-engine rdrand",
            message: "'ssl-engine' is HAProxy's, not in this build (TLS): refused, because it would "
                + "serve or send clear text where TLS is asked for. See docs/not-in-this-build.md."),
        Refused(
            family: "TLS", line: "backend:server t 10.0.0.2:443 ssl verify none crl-file /etc/ssl/crl.pem",
            message: "the server option 'crl-file' is HAProxy's, not in this build (TLS): refused, because it would "
                + "serve or send clear text where TLS is asked for. See docs/not-in-this-build.md."),
        Refused(
            family: "TLS to a server, verified without a CA", line: "backend:server t 10.0.0.2:443 ssl",
            message: "'server b/t' : verify is enabled by default but no CA file specified. If you're running on a "
                + "LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' "
                + "statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable "
                + "server-side verifications by default."),
        Refused(
            family: "authentication", line: "stats http-request redirect location /elsewhere",
            message: "'stats http-request' : this build carries out 'allow', 'deny' and 'auth' on the stats page "
                + "(HAProxy 2.6 acts on no other), not 'redirect'."),
        Refused(
            family: "ACL criterion", line: "acl blocked src_port 1024",
            message: "the ACL criterion 'src_port' is HAProxy's, not in this build (access rules and ACLs): refused, "
                + "because it would let through what the rule is meant to stop or route. See "
                + "docs/not-in-this-build.md."),
        Refused(
            family: "regular expression", line: "acl a path_reg ^/(admin",
            message: "ACL criterion 'path_reg' : '^/(admin' is not a regular expression this build reads."),
        Refused(
            family: "predefined ACL", line: "http-request deny if HTTP_1.0",
            message: "the predefined ACL 'HTTP_1.0' is HAProxy's, not in this build (access rules and ACLs): refused, "
                + "because it would let through what the rule is meant to stop or route."),
        Refused(
            family: "src pattern", line: "acl blocked src 192.0.2.0/24 blocked.example",
            message: "'src' : 'blocked.example' is not an IPv4 or IPv6 address or network (this build resolves no "
                + "host name)."),
        Refused(
            family: "src pattern file", line: "acl blocked src -f /nonexistent/blocklist.ips",
            message: "'src' : failed to open pattern file </nonexistent/blocklist.ips>."),
        Refused(
            family: "ACL pattern file that is not there", line: "acl blocked path -f /etc/haproxy/paths.lst",
            message: "'path' : failed to open pattern file </etc/haproxy/paths.lst>."),
        Refused(
            family: "ACL criterion in an anonymous ACL", line: "http-request deny if { url_reg ^/admin }",
            message: "the ACL criterion 'url_reg' is HAProxy's, not in this build (access rules and ACLs): "
                + "refused, because it would let through what the rule is meant to stop or route. See "
                + "docs/not-in-this-build.md."),
        Refused(
            family: "ACL flag", line: "acl static path_beg -n /static",
            message: "the ACL flag '-n' is HAProxy's, not in this build (access rules and ACLs): refused, because "
                + "it would let through what the rule is meant to stop or route. See docs/not-in-this-build.md."),
        Refused(
            family: "rules in backends", line: "backend:http-request reject",
            message: "'http-request reject' is HAProxy's, not in this build (access rules and ACLs): refused, because "
                + "it would let through what the rule is meant to stop or route. See docs/not-in-this-build.md."),
        Refused(
            family: "tcp-request", line: "tcp-request connection set-mark 1",
            message: "'tcp-request connection set-mark' is HAProxy's, not in this build (access rules and ACLs): "
                + "refused, because it would let through what the rule is meant to stop or route. See "
                + "docs/not-in-this-build.md."),
        Refused(
            family: "rewriting", line: "http-response redirect location /x",
            message: "'http-response redirect' is HAProxy's, not in this build (header, URL and response "
                + "rewriting): refused, because servers or clients would see other bytes than the configuration "
                + "asks. See docs/not-in-this-build.md."),
        Refused(
            family: "access rules", line: "http-response allow",
            message: "'http-response allow' is HAProxy's, not in this build (access rules and ACLs): refused, because "
                + "it would let through what the rule is meant to stop or route. See docs/not-in-this-build.md."),
        Refused(
            family: "rewriting", line: "http-request set-header X-Client-Net %[src,crc32(1)]",
            message: "'http-request set-header' : the value '%[src,crc32(1)]' uses '%[src,crc32(1)]', which this "
                + "build cannot evaluate (docs/proxy.md lists the fetches and converters it has): refused, because "
                + "servers would see other bytes than the configuration asks."),
        Refused(
            family: "redirects", line: "redirect scheme https code 301 set-cookie SEEN=1",
            message: "'redirect … set-cookie' is HAProxy's, not in this build (header, URL and response rewriting): "
                + "refused, because clients would be sent elsewhere than the configuration asks."),
        Refused(
            family: "redirects", line: "redirect scheme https code 305",
            message: "'redirect': unsupported HTTP code '305'."),
        Refused(
            family: "stick tables", line: "backend:stick-table type ip size 100k expire 30s srvkey name",
            message: "stick-table: 'srvkey' is HAProxy's, not in this build (stick tables, trackers and rate "
                + "limits): refused, because rate limits, trackers and persistence would not apply. See "
                + "docs/not-in-this-build.md."),
        Refused(
            family: "trackers", line: "http-request sc-inc-gpc(1,0)",
            message: "'http-request sc-inc-gpc' is HAProxy's, not in this build (stick tables, trackers and rate "
                + "limits): refused, because rate limits, trackers and persistence would not apply. See "
                + "docs/not-in-this-build.md."),
        Refused(
            family: "runtime API", line: "section:program api",
            message: "the section 'program' is HAProxy's, not in this build (the runtime API and process management): refused, "
                + "because an interface or process behaviour the configuration asks for would be missing. See "
                + "docs/not-in-this-build.md."),
        Refused(
            family: "persistence", line: "backend:cookie SERVERID prefix indirect nocache",
            message: "'cookie SERVERID prefix' is HAProxy's, not in this build (routing, persistence and balancing): "
                + "refused, because traffic would reach other servers than the configuration asks. See "
                + "docs/not-in-this-build.md."),
        Refused(
            family: "balancing", line: "backend:balance rdp-cookie",
            message: "'balance rdp-cookie' is HAProxy's, not in this build (routing, persistence and balancing): refused, "
                + "because traffic would reach other servers than the configuration asks."),
        Refused(
            family: "health checks", line: "backend:option smtpchk",
            message: "'option smtpchk' is HAProxy's, not in this build (health checks): refused, because "
                + "servers would be judged by another test than the configuration asks. See "
                + "docs/not-in-this-build.md."),
        Refused(
            family: "logging", line: "log-tag web",
            message: "'log-tag' is HAProxy's, not in this build (logging): refused, because the log lines "
                + "would differ from what the configuration asks. See docs/not-in-this-build.md."),
        Refused(
            family: "stats admin without a condition", line: "stats admin",
            message: "'stats admin' requires either 'if' or 'unless' followed by a condition."),
        Refused(
            family: "sections that act", line: "section:program api\n  command /usr/bin/api",
            message: "the section 'program' is HAProxy's, not in this build (the runtime API and process "
                + "management): refused, because an interface or process behaviour the configuration asks for "
                + "would be missing. See docs/not-in-this-build.md."),
        Refused(
            family: "option arguments", line: "option httpclose force",
            message: "'option httpclose' arguments ('force') are HAProxy's, not in this build: refused, because the "
                + "proxy would behave otherwise than the configuration asks."),
        Refused(
            family: "option arguments", line: "option forwardfor except 127.0.0.0/33",
            message: "'option forwardfor' : invalid netmask '127.0.0.0/33' after 'except'."),
        Refused(
            family: "option arguments", line: "option forwardfor header",
            message: "'option forwardfor' : missing header name after 'header'."),
        Refused(
            family: "logging to a ring", line: "global:log ring@buffer format raw local0",
            message: "'log ring@buffer' is HAProxy's, not in this build (logging): refused, because the log lines would "
                + "differ from what the configuration asks. Log to a syslog address or a unix socket."),
        Refused(
            family: "typo (option)", line: "option htplog",
            message: "unknown option 'htplog'; did you mean 'httplog' maybe ?"),
        Refused(
            family: "typo (option)", line: "option dontlognul",
            message: "unknown option 'dontlognul'; did you mean 'dontlognull' maybe ?"),
        Refused(
            family: "typo (keyword)", line: "defualt_backend b",
            message: "unknown keyword 'defualt_backend' in 'frontend' section; did you mean 'default_backend' maybe ?"
        ),
        Refused(
            family: "typo (global)", line: "global:maxconnn 100",
            message: "unknown keyword 'maxconnn' in 'global' section; did you mean 'maxconn' maybe ?"),
    ]

    @Test("what this build cannot honour is refused, naming file, line and word", arguments: refused)
    func refusedFamilies(_ r: Refused) {
        do {
            let c = try HAProxyConfigParser.parse(text: r.text)
            Issue.record("started with '\(r.line)' dropped; warnings: \(c.warnings)")
        } catch {
            let first = error.alerts.first
            #expect(first?.location == SourceLocation(file: "haproxy.cfg", line: r.lineNumber), "\(error)")
            #expect(first?.message == r.message, "\(error)")
        }
    }

    /// `setenv`, `presetenv`, `unsetenv` in global: the environment from that line on, as later lines expand it.
    @Test func globalSetenvIsSeenByTheLinesAfterIt() throws {
        setenv("TOLLGATE_TEST_PRESET", "7000", 1)
        let c = try HAProxyConfigParser.parse(
            text: """
                global
                    setenv TOLLGATE_TEST_SETENV 8081
                    presetenv TOLLGATE_TEST_PRESET 9000
                    setenv TOLLGATE_TEST_GONE 1
                    unsetenv TOLLGATE_TEST_GONE
                listen a
                    bind 127.0.0.1:${TOLLGATE_TEST_SETENV}
                    bind 127.0.0.1:${TOLLGATE_TEST_PRESET}
                    bind "127.0.0.1:${TOLLGATE_TEST_GONE-8082}"
                    server s 10.0.0.1:80

                """)
        #expect(c.proxy(named: "a")?.binds.map(\.port) == [8081, 7000, 8082])
        #expect(String(cString: getenv("TOLLGATE_TEST_SETENV")) == "8081")
        unsetenv("TOLLGATE_TEST_SETENV")
        unsetenv("TOLLGATE_TEST_PRESET")
        #expect(throws: ConfigProblems.self) { try HAProxyConfigParser.parse(text: "global\n  setenv ONLY_NAME\n") }
    }

    @Test func onlyTuningIsAWarning() throws {
        let c = try HAProxyConfigParser.parse(
            text: """
                global
                    tune.bufsize 32768
                    nbproc 1
                    ulimit-n 65536
                userlist admins
                    user bob insecure-password x
                frontend f
                    bind :80 backlog 1024 name web tfo
                    option forwardfor
                    option http-use-htx
                    default_backend b
                backend b
                    fullconn 100
                    server s 10.0.0.1:80 check id 3
                """)
        #expect(
            c.warnings.map { "\($0.location.line): \($0.message)" } == [
                "2: 'tune.bufsize' has no effect in this build (tuning); it is ignored.",
                "3: 'nbproc' has no effect in this build (removed in HAProxy 2.5; this proxy uses threads (nbthread)); "
                    + "it is ignored.",
                "4: 'ulimit-n' has no effect in this build (the proxy raises its own descriptor limit); it is ignored.",
                "8: the bind option 'tfo' has no effect in this build (TCP fast open tuning); it is ignored.",
                "10: 'option http-use-htx' has no effect in this build (HTX is the only engine since HAProxy 2.1); "
                    + "it is ignored.",
                "14: the server option 'id' has no effect in this build (a number for the runtime API, which is "
                    + "refused); it is ignored.",
            ])
        #expect(c.proxy(named: "b")?.servers.first?.check == true)
        #expect(c.proxy(named: "b")?.settings.fullconn == 100, "carried out (server minconn)")
    }

    @Test func defaultServerOptionsApplyToTheServersAfterThem() throws {
        let c = try HAProxyConfigParser.parse(
            text: """
                defaults
                    default-server inter 3s fall 2
                backend b
                    server a 10.0.0.1:80 check
                    default-server rise 5 weight 20
                    server b 10.0.0.2:80 check fall 4
                    server c 10.0.0.3:80 no-check
                listen l
                    bind :80
                    server d 10.0.0.4:80
                """)
        let b = try #require(c.proxy(named: "b"))
        #expect(b.servers.map(\.inter) == [.milliseconds(3000), .milliseconds(3000), .milliseconds(3000)])
        #expect(b.servers.map(\.fall) == [2, 4, 2])
        #expect(b.servers.map(\.rise) == [2, 5, 5])
        #expect(b.servers.map(\.weight) == [1, 20, 20])
        #expect(b.servers.map(\.check) == [true, true, false])
        #expect(b.servers.map(\.name) == ["a", "b", "c"] && b.servers[2].host == "10.0.0.3")
        #expect(c.proxy(named: "l")?.servers.first?.inter == .milliseconds(3000), "from defaults")
    }

    /// Forms real configurations use that HAProxy reads: `default_backend` in `defaults` (the frontends and
    /// listens after it use it; one named in the section wins), `OR` in capitals, `no log` (the proxy logs nothing
    /// of what its defaults gave), a redirect's `code` before its target, addresses with environment variables
    /// written without quotes.
    @Test func formsFromRealWorldFilesAreReadAsHAProxyReadsThem() throws {
        setenv("TOLLGATE_TEST_PORT", "8443", 1)
        setenv("TOLLGATE_TEST_HOST", "10.0.0.9", 1)
        let c = try HAProxyConfigParser.parse(
            text: """
                global
                    log 127.0.0.1:514 local0
                    stats socket $TOLLGATE_TEST_HOST.sock level admin
                defaults
                    mode http
                    log global
                    default_backend app
                frontend f
                    bind :$TOLLGATE_TEST_PORT
                    no log
                    acl a path /a
                    acl b path /b
                    http-request redirect code 301 location /elsewhere drop-query if a OR b
                frontend g
                    bind :81
                    default_backend other
                listen l
                    bind :82
                    server s 10.0.0.1:80
                backend app
                    server a ${TOLLGATE_TEST_HOST}:80 check addr $TOLLGATE_TEST_HOST port 81
                backend other
                    server o 10.0.0.2:80
                """)
        let f = try #require(c.proxy(named: "f"))
        #expect(f.defaultBackend == "app" && c.proxy(named: "g")?.defaultBackend == "other")
        #expect(c.proxy(named: "l")?.defaultBackend == "app", "a listen too, as HAProxy's defbe")
        #expect(c.proxy(named: "app")?.defaultBackend == nil)
        #expect(f.binds.first?.port == 8443 && c.proxy(named: "app")?.servers.first?.host == "10.0.0.9")
        #expect(c.proxy(named: "app")?.servers.first?.checkAddress == "10.0.0.9")
        #expect(c.global.statsSockets.first?.address == .unix("10.0.0.9.sock"))
        #expect(f.settings.logs.isEmpty && !f.settings.logGlobal && c.proxy(named: "g")?.settings.logGlobal == true)
        #expect(f.rules.requestRules.count + f.rules.redirects.count == 1)
        // An ACL left with no pattern (an unset variable): accepted with HAProxy's warning, and it never matches.
        let empty = try HAProxyConfigParser.parse(
            text: "defaults\n    mode http\nfrontend e\n    bind :80\n    acl p path_beg \"$TOLLGATE_UNSET\"\n"
                + "    http-request deny if p\n")
        #expect(empty.warnings.contains { $0.message.contains("no pattern to match against were provided") })
        let test = try #require(empty.proxy(named: "e")?.rules.acls["p"]?.first)
        for path in ["/", "/anything", ""] {
            #expect(!test.matches(HTTPRequestHead(version: .http1_1, method: .GET, uri: path), path: Substring(path), client: nil))
        }
        // A server on a local socket: the path form, `unix@`, `abns@`.
        let local = try HAProxyConfigParser.parse(
            text: "listen l\n    bind :80\n    server s /run/app.sock\n    server u unix@/run/u.sock\n    server a abns@x\n")
        #expect(local.proxy(named: "l")?.servers.map(\.localSocket) == [.path("/run/app.sock"), .path("/run/u.sock"), .abstract("x")])
        #expect(LocalSocket("abns@x")?.sunPath == "\u{0}x" && LocalSocket("127.0.0.1:80") == nil)
        for (text, message) in [
            ("listen l\n    bind :80\n    no log global\n", "'no log' does not expect arguments."),
            ("listen l\n    bind :80\n    server s fd@3\n", "'server s' : a server at a local socket ('fd@3')"),
            (
                "listen l\n    bind :80\n    mode http\n    http-request redirect code 301\n",
                "'http-request redirect' expects 'location', 'prefix' or 'scheme' followed by a target."
            ),
        ] {
            #expect(throws: ConfigProblems.self) { try HAProxyConfigParser.parse(text: text) }
            do {
                _ = try HAProxyConfigParser.parse(text: text)
            } catch {
                #expect(error.alerts.contains { $0.message.hasPrefix(message) }, "\(error.alerts)")
            }
        }
    }

    @Test func tcpProxiesWithHTTPRulesAndStatsAreRefused() {
        for (text, message) in [
            (
                "frontend f\n  mode tcp\n  bind :80\n  acl a path_beg /x\n  use_backend b if a\nbackend b\n",
                "frontend 'f' " + "is in mode tcp: its http-request, http-response and capture rules, and use_backend rules on HTTP "
                    + "criteria, apply to HTTP only (HAProxy would ignore them with a warning; this build refuses to "
                    + "run without them). Set 'mode http', or remove them."
            ),
            ("listen s\n  mode tcp\n  bind :80\n  stats uri /s\n", "listen 's' : the stats page needs 'mode http' (it would not be served)."),
            (
                "backend b\n  mode tcp\n  http-request deny\n",
                "backend 'b' " + "is in mode tcp: its http-request, http-response and capture rules, and use_backend rules on HTTP "
                    + "criteria, apply to HTTP only (HAProxy would ignore them with a warning; this build refuses to "
                    + "run without them). Set 'mode http', or remove them."
            ),
        ] {
            #expect(throws: ConfigProblems.self) { try HAProxyConfigParser.parse(text: text) }
            do {
                _ = try HAProxyConfigParser.parse(text: text)
            } catch {
                #expect(error.alerts.map(\.message) == [message])
            }
        }
    }

    /// `errorfile` is read with the configuration: a file that cannot be sent as HAProxy would send it is an error
    /// naming its line, never a page silently left as HAProxy's own.
    @Test func errorFilesAreCheckedWhenTheFileIsRead() throws {
        let dir = try TemporaryDirectory(prefix: "errorfile")
        try "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<h1>down</h1>\n".write(
            toFile: dir.file("503.http"), atomically: true, encoding: .utf8)
        try "<html>not a response</html>\n".write(toFile: dir.file("bad.http"), atomically: true, encoding: .utf8)
        func parse(_ line: String) throws(ConfigProblems) -> ProxyConfiguration {
            try HAProxyConfigParser.parse(text: "defaults\n  mode http\n  \(line)\nlisten l\n  bind :80\n")
        }
        let good = try parse("errorfile 503 \(dir.file("503.http"))")
        #expect(good.proxies.first?.settings.errorFiles[503]?.count == 75, "read, and inherited from defaults")
        for (line, message) in [
            ("errorfile 503 \(dir.file("missing.http"))", "'errorfile' : error opening file '\(dir.file("missing.http"))'."),
            ("errorfile 302 \(dir.file("503.http"))", "'errorfile' : status code 302 is not one HAProxy answers with an error file."),
            ("errorfile 503", "'errorfile' expects <status_code> and <file> as arguments."),
            (
                "errorfile 503 \(dir.file("bad.http"))",
                "'errorfile' : '\(dir.file("bad.http"))' is not a whole HTTP response of at most 16 kB (a status line, "
                    + "headers, an empty line, then the body)."
            ),
        ] {
            do throws(ConfigProblems) {
                _ = try parse(line)
                Issue.record("accepted: \(line)")
            } catch {
                #expect(error.alerts.map(\.message) == [message])
                #expect(error.alerts.first?.location.line == 3)
            }
        }
    }

    /// `tcp-request connection|content accept|reject` on `src` is read; what this build would not evaluate as written
    /// (other actions, other criteria, `inspect-delay`, content rules of an HTTP backend) is refused.
    @Test func tcpRequestRulesOnTheClientsAddress() throws {
        let c = try HAProxyConfigParser.parse(
            text: """
                frontend f
                  bind :1
                  acl lan src 10.0.0.0/8
                  tcp-request connection accept if lan
                  tcp-request connection reject
                  tcp-request content reject unless { src 192.168.0.0/16 } or lan
                  default_backend b
                backend b
                  acl lan src 10.0.0.0/8
                  tcp-request connection reject
                  tcp-request content reject if !lan
                  server s 127.0.0.1:1
                """)
        let f = try #require(c.proxies.first)
        #expect(f.rules.tcpConnectionRules.map(\.action) == [.accept, .reject])
        #expect(f.rules.tcpContentRules.count == 1 && f.rules.tcpContentRules[0].condition?.unless == true)
        #expect(c.proxies[1].rules.tcpContentRules.count == 1 && c.proxies[1].rules.tcpConnectionRules.isEmpty)
        #expect(c.warnings.map(\.message) == ["'tcp-request connection' ignored because backend 'b' has no frontend capability."])
        for (line, start) in [
            ("tcp-request content reject if { path /x }", "'tcp-request content reject' : this build evaluates these rules on the client's address ('src') and the TLS ClientHello (req.ssl_sni, req.ssl_hello_type), and a condition here tests 'path'"),
            ("tcp-request connection reject if { req.ssl_sni x }", "'tcp-request connection reject' : this build evaluates these rules on the client's address ('src'), and a condition here tests 'req.ssl_sni'"),
            ("tcp-request content reject if { req.ssl_sni x }", "frontend 'f' : 'req.ssl_sni' (what the client sent first) is read by this build in the 'tcp-request content' and 'use_backend' rules of a frontend or listen in mode tcp only"),
            ("tcp-request inspect-delay", "'tcp-request inspect-delay' expects a time value"),
            ("tcp-request connection set-mark 1", "'tcp-request connection set-mark' is HAProxy's, not in this build"),
            ("tcp-request content expect-proxy layer4", "'tcp-request content expect-proxy' : expects 'layer4', and only in"),
            ("tcp-request connection track-sc0 src", "Proxy 'f': unable to find table 'f' referenced by track-sc0."),
            ("tcp-request connection track-sc0 hdr(host) table f", "'tcp-request connection track-sc0' : fetch method 'hdr(host)' extracts"),
            ("tcp-request connection track-sc3 src", "'tcp-request connection track-sc3' : 3 track-sc number exceeding 2"),
            ("tcp-request sideways accept", "'tcp-request' expects 'inspect-delay', 'connection', 'session' or 'content', got 'sideways'."),
        ] {
            do throws(ConfigProblems) {
                _ = try HAProxyConfigParser.parse(text: "frontend f\n  mode http\n  bind :1\n  \(line)\n")
                Issue.record("accepted: \(line)")
            } catch {
                #expect(error.alerts.count == 1 && error.alerts[0].message.hasPrefix(start), "\(error.alerts)")
            }
        }
        #expect(throws: ConfigProblems.self) {
            try HAProxyConfigParser.parse(text: "backend b\n  mode http\n  tcp-request content reject\n  server s 127.0.0.1:1\n")
        }
    }

    /// `cookie` in its insert and passive modes and `server … cookie`; the modes that rewrite the cookie are refused.
    @Test func persistenceCookiesAreReadAsHAProxyReadsThem() throws {
        let c = try HAProxyConfigParser.parse(
            text: """
                defaults
                  mode http
                backend b
                  cookie SRV insert indirect nocache postonly httponly secure domain .a.com domain .b.com attr SameSite=Lax
                  server s 127.0.0.1:1 cookie s1
                """)
        let cookie = try #require(c.proxies.first?.settings.cookie)
        #expect(cookie.name == "SRV" && cookie.insert && cookie.indirect && cookie.nocache && cookie.postOnly)
        #expect(cookie.httpOnly && cookie.secure && cookie.domains == [".a.com", ".b.com"] && cookie.attributes == ["SameSite=Lax"])
        #expect(c.proxies.first?.servers.first?.cookie == "s1")
        for (line, message) in [
            ("cookie SRV rewrite", "'cookie SRV rewrite' is HAProxy's, not in this build (routing, persistence and balancing): refused, because traffic would reach other servers than the configuration asks. See docs/not-in-this-build.md."),
            ("cookie SRV insert maxidle 30m", "'cookie SRV maxidle' is HAProxy's, not in this build (routing, persistence and balancing): refused, because traffic would reach other servers than the configuration asks. See docs/not-in-this-build.md."),
            ("cookie SRV insert sideways", "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options."),
            ("cookie", "'cookie' expects <cookie_name> as argument."),
        ] {
            do throws(ConfigProblems) {
                _ = try HAProxyConfigParser.parse(text: "backend b\n  mode http\n  \(line)\n  server s 127.0.0.1:1\n")
                Issue.record("accepted: \(line)")
            } catch {
                #expect(error.alerts.map(\.message) == [message])
            }
        }
        #expect(throws: ConfigProblems.self) {
            try HAProxyConfigParser.parse(text: "backend b\n  mode tcp\n  cookie SRV insert\n  server s 127.0.0.1:1\n")
        }
    }

    /// `monitor fail if|unless …` and `nbsrv(BACKEND)` with HAProxy's integer patterns.
    @Test func monitorFailAndNbsrv() throws {
        #expect(ACLTest.integerRanges(["lt", "1"]) == [Int.min...0])
        // The operator holds for the values after it, as in HAProxy.
        #expect(ACLTest.integerRanges(["ge", "2", "5", "7:9", ":3", "4:"]) == [2...Int.max, 5...Int.max, 7...9, Int.min...3, 4...Int.max])
        #expect(ACLTest.integerRanges(["x"]) == nil && ACLTest.integerRanges(["9:1"]) == nil)
        // '-' separates a range as ':' does, whatever the operator (HAProxy 2.6's `parse_acl_expr` and
        // `pat_parse_int`): `lt -13` is at most 13, and a negative number cannot be written.
        #expect(ACLTest.integerRanges(["lt", "-13"]) == [Int.min...13])
        #expect(ACLTest.integerRanges(["5-10", "7-"]) == [5...10, 7...Int.max])
        #expect(ACLTest.integerRanges(["-5:3"]) == nil && ACLTest.integerRanges(["gt", "+1"]) == nil)
        let c = try HAProxyConfigParser.parse(
            text: """
                frontend f
                  mode http
                  bind :1
                  monitor-uri /health
                  acl gone nbsrv(Be) eq 0
                  monitor fail if gone
                  monitor fail unless { nbsrv(Be) ge 2 }
                  default_backend Be
                backend Be
                  mode http
                  server s 127.0.0.1:1
                """)
        #expect(c.proxies[0].rules.monitorFail.count == 2)
        #expect(c.proxies[0].rules.acls["gone"]?.first?.sample == .usableServers("Be"))
        for (line, message) in [
            ("monitor fail", "'monitor' expects 'fail' and an 'if' or 'unless' condition."),
            ("monitor fail if { nbsrv(nowhere) lt 1 }", "'nbsrv' : no such backend 'nowhere'."),
            ("monitor fail if { nbsrv(Be) few }", "ACL criterion 'nbsrv(Be)' expects integers, ranges (N:M) or 'lt|le|gt|ge|eq N'."),
        ] {
            do throws(ConfigProblems) {
                _ = try HAProxyConfigParser.parse(
                    text: "frontend f\n  mode http\n  bind :1\n  \(line)\nbackend Be\n  mode http\n  server s 127.0.0.1:1\n")
                Issue.record("accepted: \(line)")
            } catch {
                #expect(error.alerts.map(\.message) == [message])
            }
        }
    }

    /// `http-request set-src` from a request header; other sample expressions are refused.
    @Test func setSourceFromAHeader() throws {
        let c = try HAProxyConfigParser.parse(
            text: "frontend f\n  mode http\n  bind :1\n  http-request set-src req.hdr(X-Real-IP) if { src 10.0.0.0/8 }\n")
        #expect(c.proxies[0].rules.requestRules.first?.action == .setSource(header: "x-real-ip"))
        do throws(ConfigProblems) {
            _ = try HAProxyConfigParser.parse(text: "frontend f\n  mode http\n  bind :1\n  http-request set-src src,ipmask(24)\n")
            Issue.record("accepted")
        } catch {
            #expect(error.alerts.first?.message.hasPrefix("'http-request set-src src,ipmask(24)' : this build fetches") == true)
        }
    }

    /// A file whose last line has no LF may have been cut while written: HAProxy refuses it, with the position.
    @Test func aFileWithoutAFinalLineFeedIsRefused() throws {
        let dir = try TemporaryDirectory(prefix: "no-lf")
        try "defaults\r\n    mode http\nbackend x\n    server s 127.0.0.1:12".write(
            toFile: dir.file("cut.cfg"), atomically: true, encoding: .utf8)
        do throws(ConfigProblems) {
            _ = try HAProxyConfigParser.parse(files: [dir.file("cut.cfg")])
            Issue.record("accepted")
        } catch {
            #expect(
                error.alerts.map(\.message) == [
                    "Missing LF on last line, file might have been truncated at position 26."
                ])
            #expect(error.alerts.first?.location.line == 4)
        }
        try "backend x\n    server s 127.0.0.1:12\n".write(toFile: dir.file("whole.cfg"), atomically: true, encoding: .utf8)
        #expect(throws: Never.self) { try HAProxyConfigParser.parse(files: [dir.file("whole.cfg")]) }
    }

    /// `option tcp-check` without `tcp-check` rules is a connect check, as without a check option; the last check
    /// option wins.
    @Test func aBareTCPCheckIsAConnectCheck() throws {
        let text = """
            backend b
              option httpchk GET /health
              option tcp-check
              server s 127.0.0.1:1 check
            backend c
              option tcp-check
              option httpchk GET /health
              server s 127.0.0.1:1 check

            """
        let proxies = try HAProxyConfigParser.parse(text: text).proxies
        #expect(proxies[0].settings.httpCheck == nil && proxies[0].settings.option(.tcpCheck))
        #expect(proxies[1].settings.httpCheck?.uri == "/health")
    }

    @Test func ambiguousHostsAreNoticed() {
        func head(_ uri: String, _ hosts: [String]) -> HTTPRequestHead {
            var h = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)
            for host in hosts { h.headers.add(name: "Host", value: host) }
            return h
        }
        #expect(!HTTPSession.hostIsAmbiguous(head("/", ["a.example"])))
        #expect(!HTTPSession.hostIsAmbiguous(head("/", ["a.example", "A.example"])), "the same host twice")
        #expect(HTTPSession.hostIsAmbiguous(head("/", ["a.example", "b.example"])))
        #expect(!HTTPSession.hostIsAmbiguous(head("http://A.example/x?y", ["a.example"])))
        #expect(HTTPSession.hostIsAmbiguous(head("http://b.example/admin", ["a.example"])))
        #expect(HTTPSession.hostIsAmbiguous(head("https://b.example", ["a.example"])))
        #expect(!HTTPSession.hostIsAmbiguous(head("http://b.example/", [])), "no Host to differ from")
        #expect(!HTTPSession.hostIsAmbiguous(head("/http://b.example/", ["a.example"])), "origin form")
        var upper = head("/", ["a.example"])
        upper.headers.add(name: "HOST", value: "b.example")
        #expect(HTTPSession.hostIsAmbiguous(upper), "a header name in capitals is the same header")
        #expect(HTTPSession.hostIsAmbiguous(head("/", ["a[1]", "a{1}"])), "only letters are equal in either case")
        #expect(HTTPSession.hostIsAmbiguous(head("/", ["a.example", "a.example.org"])))
    }
}

@Suite("docs/not-in-this-build.md")
struct NotInThisBuildPageTests {
    static let page =
        """
        # What this build does not do yet

        Before migrating, read what Tollgate refuses. Each program keeps its list in one place in its source, and
        this page is generated from it (`make docs`; a test fails when the page and the code differ). The sink's
        list is in [not-in-this-build-sink.md](not-in-this-build-sink.md).


        """ + BuildSupport.markdown()

    /// The checked-in page is the one the code renders; `TOLLGATE_WRITE_DOCS=1` (`make docs`) writes it.
    @Test func thePageIsTheOneTheCodeRenders() throws {
        let path = Products.packageRoot + "/docs/not-in-this-build.md"
        if ProcessInfo.processInfo.environment["TOLLGATE_WRITE_DOCS"] == "1" {
            try NotInThisBuildPageTests.page.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let checkedIn = try String(contentsOfFile: path, encoding: .utf8)
        #expect(checkedIn == NotInThisBuildPageTests.page, "run `make docs` and commit docs/not-in-this-build.md")
    }

    @Test func everyRefusedWordIsHAProxysAndEveryCarriedOutOneIsNeverRefused() {
        for context in BuildSupport.Context.allCases {
            for word in BuildSupport.implemented[context, default: []] {
                #expect(BuildSupport.isKnown(context, word), "\(context): \(word)")
            }
            for word in HAProxyKeywords.known(context) where !BuildSupport.implemented[context, default: []].contains(word) {
                if case .unknown = BuildSupport.verdict(context, word) {
                    Issue.record("\(context): HAProxy's '\(word)' is called unknown")
                }
            }
        }
    }
}
