import Foundation
import TestSupport
import Testing

/// `resolvers` beside HAProxy 2.6, against a real DNS server (Debian's dnsmasq, its names in a hosts file it reads
/// again on SIGHUP): the same configuration on each side, the same changes of the names, and afterwards the same
/// servers with the same addresses in `show servers state`, the same lines logged (a server's IP changing, one
/// going into maintenance when its name is gone past `hold nx`, or when no address is left for it, and back), and
/// clients served through the resolved address.
@Suite("resolvers beside HAProxy", .serialized)
struct ResolversInteropTests {
    /// dnsmasq on loopback, answering for `*.test` from `hosts` only (a name it does not have is NXDOMAIN).
    final class DNS: @unchecked Sendable {
        let port: Int
        let hosts: String
        let pid: pid_t

        /// dnsmasq goes to the background itself (its pid in a file), started through perl (Debian's essential
        /// perl-base) to clear the signal mask it would inherit from the test process, which blocks nearly every
        /// signal: dnsmasq sets none of its own, and would neither reread its hosts on SIGHUP, nor stop on
        /// SIGTERM, nor reap its helper.
        init(in dir: TemporaryDirectory, hosts text: String, options: [String] = [], port given: Int? = nil) throws {
            port = try given ?? Peers.freePort()
            hosts = dir.file("hosts")
            try text.write(toFile: hosts, atomically: true, encoding: .utf8)
            let pidFile = dir.file("dnsmasq-\(port).pid")
            let started = try Peers.run(
                try Peers.find("perl"),
                [
                    "-MPOSIX", "-e", "sigprocmask(SIG_SETMASK, POSIX::SigSet->new); exec @ARGV or die",
                    try Peers.find("dnsmasq"),
                    "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                    "--local=/test/", "--addn-hosts=\(hosts)", "--user=root", "--group=root", "--pid-file=\(pidFile)",
                    "--log-facility=\(dir.file("dnsmasq.log"))",
                ] + options)
            guard started.status == 0 else {
                throw PeerFailed(description: "dnsmasq: \(String(decoding: started.stderr, as: UTF8.self))")
            }
            var read: pid_t = 0
            _ = Peers.waitUntil(seconds: 5) {
                read = (try? String(contentsOfFile: pidFile, encoding: .utf8))
                    .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
                return read > 0
            }
            pid = read
            guard pid > 0, Peers.waitUntil(seconds: 10, { Peers.isListening(port: self.port) }) else {
                throw PeerFailed(description: "dnsmasq did not start on \(port)")
            }
        }

        /// New names, read again at once.
        func set(_ text: String) throws {
            try text.write(toFile: hosts, atomically: true, encoding: .utf8)
            kill(pid, SIGHUP)
        }

        func stop() {
            kill(pid, SIGTERM)
            if !Peers.waitUntil(seconds: 5, { kill(self.pid, 0) != 0 }) { kill(pid, SIGKILL) }
        }
    }

    /// Both tests' `global`, `resolvers` (quick: a question every 200 ms, a name gone taken out after 600 ms) and
    /// `defaults` sections.
    static func preamble(logPort: Int, socket: String, dnsPort: Int) -> String {
        tcpPreamble(logPort: logPort, socket: socket) + """
        resolvers dns
            nameserver d1 127.0.0.1:\(dnsPort)
            resolve_retries 2
            timeout resolve 200ms
            timeout retry 200ms
            hold nx 600ms

        """
    }

    static let first = "127.0.0.2 one.test\n127.0.0.11 web.test\n127.0.0.12 web.test\n"
    /// one.test moves; web.test loses .11 and gains .13.
    static let second = "127.0.0.3 one.test\n127.0.0.12 web.test\n127.0.0.13 web.test\n"
    /// one.test is gone (NXDOMAIN); web.test keeps one address.
    static let third = "127.0.0.12 web.test\n"
    static let fourth = "127.0.0.3 one.test\n127.0.0.12 web.test\n"

    /// `set server BACKEND/SERVER fqdn NAME`: the server resolves the new name from then on (its address follows,
    /// its line says so), and what cannot be done is answered in HAProxy's words.
    @Test func setServerFQDNAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "resolvers-fqdn")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let echo = try await EchoBackend(host: "127.0.0.2")
        let moved = try await EchoBackend(host: "127.0.0.4", port: echo.port)
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let dns = try DNS(in: dir, hosts: "127.0.0.2 one.test\n127.0.0.4 two.test\n127.0.0.11 web.test\n")
            defer { dns.stop() }
            let port = try Peers.freePort()
            let socket = dir.file("\(who).sock")
            try (Self.preamble(logPort: logs.port, socket: socket, dnsPort: dns.port) + """
                listen l
                    bind 127.0.0.1:\(port)
                    balance first
                    server one one.test:\(echo.port) resolvers dns resolve-prefer ipv4 init-addr none
                    server plain 127.0.0.2:\(echo.port)
                    server-template t 1 _x._tcp.web.test resolvers dns init-addr none

                """).write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            var seen: [String] = []
            try await Task.sleep(for: .milliseconds(1500))
            seen += try Self.servers(socket).map { "before: \($0)" }
            for command in [
                "set server l/one fqdn", "set server l/plain fqdn two.test", "set server l/t1 fqdn two.test",
                "set server l/one fqdn one.test", "set server l/one fqdn bad!name", "set server l/one fqdn two.test",
            ] {
                seen.append("\(command): \(try RuntimeAPIInteropTests.socat(socket, command + "\n"))")
            }
            try await Task.sleep(for: .milliseconds(1500))
            seen += try Self.servers(socket).map { "after: \($0)" }
            // A client reaches the server at the new name's address.
            let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
            _ = Array("hello".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(fd, Int32(SHUT_WR))
            seen.append("client: \(String(decoding: Peers.readUntilClosed(fd), as: UTF8.self))")
            close(fd)
            // (Our audit lines of the commands aside: HAProxy has none.)
            let lines = messages.take().filter { $0.contains("l/one") && !$0.contains("audit: cli command=") }
            seen += lines.map { "log: " + $0 }
            results[who] = seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains { $0.hasPrefix("after: one 127.0.0.4 ") && $0.contains(" two.test ") }, "\(ours)")
        try await echo.close()
        try await moved.close()
    }

    /// `show servers state` of backend `l`: name, address, operational and administrative state, FQDN and port.
    static func servers(_ socket: String) throws -> [String] {
        try RuntimeAPIInteropTests.socat(socket, "show servers state l\n").split(separator: "\n")
            .filter { !$0.hasPrefix("#") && $0.split(separator: " ").count > 18 }
            .map { line in
                let f = line.split(separator: " ").map(String.init)
                return [f[3], f[4], f[5], f[6], f[17], f[18]].joined(separator: " ")
            }
    }

    @Test func namesFollowedAsHAProxyFollowsThem() async throws {
        let dir = try TemporaryDirectory(prefix: "resolvers")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        // The servers at the addresses one.test takes (the same port on each).
        let echo = try await EchoBackend(host: "127.0.0.2")
        let moved = try await EchoBackend(host: "127.0.0.3", port: echo.port)
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let dns = try DNS(in: dir, hosts: Self.first)
            defer { dns.stop() }
            let port = try Peers.freePort()
            let socket = dir.file("\(who).sock")
            try (Self.preamble(logPort: logs.port, socket: socket, dnsPort: dns.port) + """
                listen l
                    bind 127.0.0.1:\(port)
                    balance first
                    server one one.test:\(echo.port) resolvers dns resolve-prefer ipv4 init-addr none
                    server-template t 3 web.test:\(echo.port) resolvers dns resolve-prefer ipv4 init-addr none

                """).write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            var seen: [String] = []
            // Each step waits 2.5 s: some 200 ms for the next question, and for a name gone, its `hold nx` (600 ms)
            // from the last valid answer, checked when an error is reported (every 400 ms or so), with room for a
            // loaded machine.
            func snapshot(_ step: String) async throws {
                try await Task.sleep(for: .milliseconds(2500))
                seen += try Self.servers(socket).map { "\(step): \($0)" }
            }
            try await snapshot("first")
            // A client reaches the echo server through one.test's address.
            let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
            _ = Array("hello".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(fd, Int32(SHUT_WR))
            seen.append("client: \(String(decoding: Peers.readUntilClosed(fd), as: UTF8.self))")
            close(fd)
            for (step, hosts) in [("second", Self.second), ("third", Self.third), ("fourth", Self.fourth)] {
                try dns.set(hosts)
                try await snapshot(step)
            }
            let resolvers = try RuntimeAPIInteropTests.socat(socket, "show resolvers\n")
            #expect(resolvers.hasPrefix("Resolvers section dns\n nameserver d1:\n  sent:        "), "\(resolvers)")
            // The counters' names, in order (their values depend on the timing).
            seen += resolvers.split(separator: "\n").map { $0.split(separator: ":").first.map(String.init) ?? "" }
            // Each server's lines in their order (the two names' resolutions interleave as the timing has it).
            let lines = messages.take().filter { !$0.contains(" [") && !$0.contains("Proxy ") }
            for server in ["l/one", "l/t1", "l/t2", "l/t3"] {
                seen += lines.filter { $0.contains(server + " ") }.map { "log: " + $0 }
            }
            results[who] = seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("first: one 127.0.0.2 2 0 one.test \(echo.port)"), "\(ours)")
        #expect(ours.contains("client: hello"), "\(ours)")
        #expect(ours.contains { $0.hasPrefix("third: one - 0 32") }, "\(ours)")
        try await echo.close()
        try await moved.close()
    }

    /// `show servers state` of backend `l`: name, address, operational and administrative state, weight, FQDN,
    /// port and SRV record.
    static func srvServers(_ socket: String) throws -> [String] {
        try RuntimeAPIInteropTests.socat(socket, "show servers state l\n").split(separator: "\n")
            .filter { !$0.hasPrefix("#") && $0.split(separator: " ").count > 19 }
            .map { line in
                let f = line.split(separator: " ").map(String.init)
                return [f[3], f[4], f[5], f[6], f[7], f[17], f[18], f[19]].joined(separator: " ")
            }
    }

    /// `server-template` on an SRV record: each target (in HAProxy's order) to a server with the record's port and
    /// weight, its address from the answer's additional section; a target gone leaves its server in maintenance,
    /// a new one takes the first free server.
    @Test func srvRecordsFilledAsHAProxyFillsThem() async throws {
        let dir = try TemporaryDirectory(prefix: "resolvers-srv")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let serverPort = try Peers.freePort()
        func records(_ targets: [(String, String, Int)]) -> [String] {
            targets.flatMap { name, address, weight in
                [
                    "--srv-host=_http._tcp.web.test,\(name).test,\(serverPort),0,\(weight)",
                    "--host-record=\(name).test,\(address)",
                ]
            }
        }
        let before = records([("h1", "127.0.0.2", 10), ("h2", "127.0.0.3", 512)])
        let after = records([("h1", "127.0.0.2", 10), ("h3", "127.0.0.4", 1000)])
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            var dns = try DNS(in: dir, hosts: "", options: before)
            defer { dns.stop() }
            let port = try Peers.freePort()
            let socket = dir.file("\(who).sock")
            try (Self.preamble(logPort: logs.port, socket: socket, dnsPort: dns.port) + """
                listen l
                    bind 127.0.0.1:\(port)
                    server-template v 3 _http._tcp.web.test resolvers dns resolve-prefer ipv4 init-addr none

                """).write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            try await Task.sleep(for: .milliseconds(2500))
            var seen = try Self.srvServers(socket).map { "before: \($0)" }
            dns.stop()
            dns = try DNS(in: dir, hosts: "", options: after, port: dns.port)
            try await Task.sleep(for: .milliseconds(2500))
            seen += try Self.srvServers(socket).map { "after: \($0)" }
            let lines = messages.take().filter { !$0.contains(" [") && !$0.contains("Proxy ") }
            for server in ["l/v1", "l/v2", "l/v3"] {
                seen += lines.filter { $0.contains(server + " ") }.map { "log: " + $0 }
            }
            results[who] = seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains { $0.hasPrefix("before: ") && $0.contains(" h1.test \(serverPort) _http._tcp.web.test") }, "\(ours)")
    }
}
