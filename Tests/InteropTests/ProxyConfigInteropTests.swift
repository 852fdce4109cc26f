import Foundation
import TestSupport
import Testing

@testable import Proxy

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
        "global\n  log 127.0.0.1 local0\ndefaults\n  log global\n  mode http\n  timeout client 1s\n"
            + "  timeout server 1s\n  timeout connect 1s\n  log-format '{\"client\":\"%ci\",\"status\":%ST,\"req\":\"%HM %HU\"}'\n"
            + "listen l\n  bind :80\n  server s 10.0.0.1:80\n",
        ".if version_atleast(2.4) && !defined(TOLLGATE_UNSET) && streq(a,a)\nlisten l\n  bind :80\n.else\n  bogus\n"
            + ".endif\n.if feature(NO_SUCH_FEATURE)\n  lua-load /nonexistent.lua\n.endif\n",
        // Environment variables as Docker images write them: a default for an unset one, `$NAME` without braces,
        // a pseudo-variable; an empty argument ends what is read (HAProxy does not read the `ssl` after it).
        "listen l\n  bind \"${TOLLGATE_UNSET_ADDR-127.0.0.1:18080}\"\n  bind \"127.0.0.1:180$.LINE\" \"$TOLLGATE_UNSET\" ssl\n",
        // Forms from real-world files: default_backend in defaults, `OR`, `no log`, a redirect's code first, an
        // address with an unquoted variable, a server at a UNIX socket (HAProxy runs it; the proxy refuses it, so
        // it is not here).
        "global\n  log 127.0.0.1 local0\ndefaults\n  mode http\n  log global\n  timeout client 1s\n  timeout server 1s\n"
            + "  timeout connect 1s\n  default_backend b\nfrontend f\n  bind 127.0.0.1:81$TOLLGATE_UNSET\n  no log\n"
            + "  acl a path /a\n  acl c path /c\n  http-request redirect code 301 location /x if a OR c\nbackend b\n"
            + "  server s 10.0.0.1:80\n",
        // Stats in defaults: every proxy after it; a TCP listen drops them (HAProxy's warning).
        "defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n  stats enable\n"
            + "  stats uri /st\n  stats auth a:b\nlisten l\n  bind 127.0.0.1:81\n  server s 10.0.0.1:80\n"
            + "listen t\n  bind 127.0.0.1:82\n  mode tcp\n  server s 10.0.0.1:80\n",
        // An ACL whose only pattern came from an unset variable: it never matches (HAProxy's warning).
        "defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\nfrontend f\n"
            + "  bind 127.0.0.1:81\n  acl p path_beg \"$TOLLGATE_UNSET\"\n  http-request deny if p\n  default_backend b\n"
            + "backend b\n  server s 10.0.0.1:80\n",
        // setenv in global, seen by the lines after it (a bind's port), presetenv leaving a set variable alone.
        "global\n  setenv TOLLGATE_C_PORT 18093\n  presetenv TOLLGATE_C_PORT 1\n  unsetenv TOLLGATE_C_NONE\n"
            + "listen l\n  bind 127.0.0.1:${TOLLGATE_C_PORT}\n  option originalto except 10.0.0.0/8 header X-Dst\n"
            + "  server s 10.0.0.1:80\n",
        // Name resolution at run time: a resolvers section with its timings, servers and a template resolving
        // through it (a name nothing resolves yet starts in maintenance, with or without `init-addr none`), an
        // address that needs no resolving.
        "resolvers dns\n  nameserver d1 127.0.0.1:53\n  nameserver d2 [::1]:5353\n  resolve_retries 3\n"
            + "  timeout resolve 1s\n  timeout retry 500ms\n  hold valid 10s\n  hold nx 5s\n  hold obsolete 0s\n"
            + "  accepted_payload_size 8192\nlisten l\n  bind 127.0.0.1:81\n"
            + "  server-template web 1-3 web.invalid:80 resolvers dns resolve-prefer ipv4 init-addr none check\n"
            + "  server a app.invalid:80 resolvers dns resolve-opts allow-dup-ip,ignore-weight\n"
            + "  server b 10.0.0.1:80 resolvers dns resolve-net 10.0.0.0/8,192.168.0.0/16\n",
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
        // log-format: an HTTP variable in a TCP proxy, a fetch with nothing left at log time, an unknown variable,
        // a lone percent sign.
        "global\n  log 127.0.0.1 local0\ndefaults\n  log global\n  log-format \"%ci %r\"\nlisten l\n  bind :80\n",
        "global\n  log 127.0.0.1 local0\nlisten l\n  bind :80\n  mode http\n  log global\n"
            + "  log-format \"%[req.hdr(host)]\"\n",
        "global\n  log 127.0.0.1 local0\nlisten l\n  bind :80\n  log global\n  log-format \"%ci %fe\"\n",
        "global\n  log 127.0.0.1 local0\nlisten l\n  bind :80\n  log global\n  log-format \"100%\"\n",
        "listen l\n  bind :80\n  unique-id-format \"%ci_%HU\"\n",
        // Conditional blocks: a lone .endif, an unterminated .if, an unknown predicate.
        ".endif\nlisten l\n  bind :80\n",
        ".if 1\nlisten l\n  bind :80\n",
        ".if nothing(x)\n.endif\nlisten l\n  bind :80\n",
        // A variable name that cannot be one, an unclosed brace, an empty address, a value left empty by an unset
        // variable.
        "listen l\n  bind :80\n  no log global\n",
        "listen l\n  bind \"$1\"\n",
        "listen l\n  bind \"${TOLLGATE_UNSET\"\n",
        "listen l\n  bind \"$TOLLGATE_UNSET\"\n",
        "listen l\n  bind :80\n  mode http\n  http-request set-header X-Id \"$TOLLGATE_UNSET\" if TRUE\n",
        // resolvers: a nameserver without its port, an unknown keyword, a payload too small, an unknown hold, a
        // section nobody declared, a template without servers, an unknown family.
        "resolvers dns\n  nameserver d1 127.0.0.1\n",
        "resolvers dns\n  nameserver d1 127.0.0.1:53\n  bogus 1\n",
        "resolvers dns\n  nameserver d1 127.0.0.1:53\n  accepted_payload_size 11\n",
        "resolvers dns\n  nameserver d1 127.0.0.1:53\n  hold later 1s\n",
        "listen l\n  bind :80\n  server s web.invalid:80 resolvers nope\n",
        "listen l\n  bind :80\n  server-template t 0 web.invalid:80\n",
        "resolvers dns\n  nameserver d1 127.0.0.1:53\nlisten l\n  bind :80\n"
            + "  server s web.invalid:80 resolvers dns resolve-prefer ipv5\n",
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

    /// A backend's `bind` is a warning in both; with no other section there is no listener: HAProxy's -c calls
    /// it valid (its run refuses to start), the proxy says at once that it would serve nothing (exit 2, HAProxy's
    /// words for an empty configuration).
    @Test func aConfigurationWithoutAListenerWouldServeNothing() throws {
        let r = try check("backend b\n  bind :80\n  server s 10.0.0.1:80\n")
        #expect(r.theirs == 0)
        #expect(r.ours == 2, "\(r.said)")
        #expect(r.said.contains("'bind' ignored because backend 'b' has no frontend capability."), "\(r.said)")
        #expect(r.said.contains("Configuration file has no error but will not start (no listener) => exit(2)."))
        let empty = try check("global\n  log 127.0.0.1 local0\n")
        #expect(empty.theirs == 2 && empty.ours == 2, "\(empty.said)")
    }

    /// `-v` and `-vv` as haproxy's (a version line a script can read, then the build's parts), and `--help` shows
    /// how to run the proxy, not only the subcommands.
    @Test func versionAndHelpAsHAProxys() throws {
        let proxy = try Products.path("proxy")
        let haproxy = try Peers.run(try Peers.find("haproxy"), ["-v"])
        let theirs = String(decoding: haproxy.stdout, as: UTF8.self)
        #expect(theirs.hasPrefix("HAProxy version 2.6"))
        let v = try Peers.run(proxy, ["-v"])
        let ours = String(decoding: v.stdout, as: UTF8.self).split(separator: "\n")
        #expect(v.status == 0 && ours.first?.hasPrefix("Tollgate proxy version \(Proxy.version) ") == true, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("Running on: Linux") })
        let vv = try Peers.run(proxy, ["-vv"])
        #expect(vv.status == 0 && String(decoding: vv.stdout, as: UTF8.self).contains("Runtime API: stats socket"))
        let help = String(decoding: try Peers.run(proxy, ["--help"]).stdout, as: UTF8.self)
        #expect(help.contains("-f haproxy.cfg") && help.contains("-sf PID") && help.contains("proxy -v | -vv"))
    }

    /// `-f DIR`: the directory's `*.cfg` files in name order, as one configuration (others left out), as HAProxy.
    @Test func aDirectoryIsItsCfgFilesInNameOrder() throws {
        let haproxy = try Peers.find("haproxy")
        let proxy = try Products.path("proxy")
        let dir = try TemporaryDirectory(prefix: "proxy-c-dir")
        try FileManager.default.createDirectory(atPath: dir.file("conf.d"), withIntermediateDirectories: true)
        try "global\n  log 127.0.0.1 local0\n".write(toFile: dir.file("conf.d/10-global.cfg"), atomically: true, encoding: .utf8)
        try "frontend f\n  mode http\n  bind :8080\n  default_backend b\n"
            .write(toFile: dir.file("conf.d/20-frontend.cfg"), atomically: true, encoding: .utf8)
        try "backend b\n  mode http\n  server s 10.0.0.1:80\n"
            .write(toFile: dir.file("conf.d/30-backend.cfg"), atomically: true, encoding: .utf8)
        try "this is not a configuration\n".write(toFile: dir.file("conf.d/README"), atomically: true, encoding: .utf8)
        try "bogus\n".write(toFile: dir.file("conf.d/40.cfg.bak"), atomically: true, encoding: .utf8)
        for program in [haproxy, proxy] {
            let r = try Peers.run(program, ["-c", "-f", dir.file("conf.d")])
            #expect(r.status == 0, "\(program): \(String(decoding: r.stdout + r.stderr, as: UTF8.self))")
        }
        // In name order: the backend named by the frontend comes from a later file, and a bad file is named.
        try "frontend g\n  bind :8081\n  bogus x\n".write(toFile: dir.file("conf.d/25-bad.cfg"), atomically: true, encoding: .utf8)
        let bad = try Peers.run(proxy, ["-c", "-f", dir.file("conf.d")])
        #expect(bad.status == 1)
        #expect(String(decoding: bad.stderr, as: UTF8.self).contains("25-bad.cfg:3] : unknown keyword 'bogus' in 'frontend' section"))
    }

    /// `-dW`: a warning is fatal, in both.
    @Test func zeroWarningModeMakesWarningsFatal() throws {
        let haproxy = try Peers.find("haproxy")
        let proxy = try Products.path("proxy")
        let dir = try TemporaryDirectory(prefix: "proxy-dW")
        try "frontend f\n  mode tcp\n  bind :8080 backlog 100\n  default_backend b\nbackend b\n  bind :81\n  server s 10.0.0.1:80\n"
            .write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
        for program in [haproxy, proxy] {
            let plain = try Peers.run(program, ["-c", "-f", dir.file("haproxy.cfg")])
            #expect(plain.status == 0)
            let strict = try Peers.run(program, ["-c", "-dW", "-f", dir.file("haproxy.cfg")])
            let said = String(decoding: strict.stdout + strict.stderr, as: UTF8.self)
            #expect(strict.status == 1, "\(program): \(said)")
            #expect(said.contains("Some warnings were found and 'zero-warning' is set. Aborting."), "\(said)")
        }
    }

    /// The configurations the project ships still load: the seed's, the demo's, the scale-out examples, and the
    /// sink's as `make install` lays it out (its rules from conf/rsyslog.d, not the machine's /etc/rsyslog.d).
    @Test func theShippedConfigurationsStillLoad() throws {
        let proxy = try Products.path("proxy")
        let sink = try Products.path("syslog-sink")
        let root = Products.packageRoot
        for file in ["conf/haproxy.cfg", "conf/demo/haproxy.cfg"] {
            let r = try Peers.run(proxy, ["-c", "-f", "\(root)/\(file)"])
            #expect(r.status == 0, "\(file): \(String(decoding: r.stderr, as: UTF8.self))")
        }
        let dir = try TemporaryDirectory(prefix: "shipped")
        let installed = try String(contentsOfFile: "\(root)/conf/rsyslog.conf", encoding: .utf8)
            .replacingOccurrences(of: "$IncludeConfig /etc/rsyslog.d/", with: "$IncludeConfig \(root)/conf/rsyslog.d/")
        try installed.write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        for file in [dir.file("rsyslog.conf"), "\(root)/conf/demo/rsyslog.conf", "\(root)/conf/scale-out/collector.conf",
            "\(root)/conf/scale-out/node-forward.conf"]
        {
            let r = try Peers.run(sink, ["-N1", "-f", file])
            #expect(r.status == 0, "\(file): \(String(decoding: r.stderr, as: UTF8.self))")
        }
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
