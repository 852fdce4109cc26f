import Foundation
import Synchronization
import TestSupport
import Testing

/// The runtime API (`stats socket`) beside HAProxy 2.6, through the clients operators use: socat sends the same
/// commands to both and gets the same answers (errors, levels, weights, `show servers state`, prompt mode); the
/// same maintenance and drain sequence gives the same log lines; a server put in maintenance gets no traffic and
/// the command is in the audit trail with who sent it; and Debian's hatop, a real client of this API, shows the
/// proxy and disables a server through it.
@Suite("Runtime API beside HAProxy", .serialized)
struct RuntimeAPIInteropTests {
    static func config(_ dir: TemporaryDirectory, _ who: String, logPort: Int, port: Int, servers: [Int]) -> String {
        """
        global
            log 127.0.0.1:\(logPort) local0 info
            nbthread 1
            unix-bind mode 0640
            stats socket \(dir.file("\(who)-admin.sock")) mode 600 level admin
            stats socket \(dir.file("\(who)-user.sock")) level user
        defaults
            log global
            mode tcp
            option tcplog
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        frontend fe
            bind 127.0.0.1:\(port)
            default_backend be
        backend be
            server s1 127.0.0.1:\(servers[0]) weight 10
            server s2 127.0.0.1:\(servers[1])
        backend be2
            server x 127.0.0.1:\(servers[0]) disabled
            server y 127.0.0.1:\(servers[1]) backup maxconn 5

        """
    }

    /// What socat gets back for `input` on the UNIX socket `path`.
    /// The rows of a `show stat` answer, each by its column names.
    static func statRows(_ path: String, _ command: String = "show stat\n") throws -> [[String: String]] {
        let rows = try socat(path, command).split(separator: "\n")
        let header = rows.first.map { $0.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false) } ?? []
        return rows.dropFirst().map { row in
            var named: [String: String] = [:]
            for (key, value) in zip(header, row.split(separator: ",", omittingEmptySubsequences: false)) {
                named[String(key)] = String(value)
            }
            return named
        }
    }

    static func socat(_ path: String, _ input: String) throws -> String {
        let result = try Peers.run(
            try Peers.find("socat"), ["-t2", "-", "UNIX-CONNECT:\(path)"], stdin: Data(input.utf8), timeout: 20)
        return String(decoding: result.stdout, as: UTF8.self)
    }

    /// Every log message received, as `<PRI> text` (the syslog header's date and tag left out), kept by a task that
    /// reads the receiver for the whole test.
    final class Messages: Sendable {
        private let received = Mutex<[String]>([])

        init(_ logs: LoopbackUDPReceiver) {
            Task { [self] in
                for await arrival in logs.arrivals {
                    let text = String(decoding: arrival.bytes, as: UTF8.self)
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    guard let close = text.firstIndex(of: ">"), let body = text.range(of: "]: ") else { continue }
                    add(String(text[...close]) + " " + String(text[body.upperBound...]))
                }
            }
        }

        private func add(_ message: String) { received.withLock { $0.append(message) } }

        /// What came so far, emptied.
        func take() -> [String] {
            received.withLock { list in
                defer { list = [] }
                return list
            }
        }

        /// Waits until `count` messages with `filter` came (or `seconds` passed), then takes all.
        func take(waitingFor count: Int, seconds: Double = 10, _ filter: @escaping (String) -> Bool) async -> [String] {
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while ContinuousClock.now < deadline, received.withLock({ $0.filter(filter).count }) < count {
                try? await Task.sleep(for: .milliseconds(20))
            }
            return take()
        }
    }

    static let commands = [
        "disable server be/nope", "disable server nope/s1", "disable server be", "set server be/s1 state foo",
        "set server be/s1 weight 300", "set server be/s1 weight 7x", "set server be/s1 weight 5", "get weight be/s1",
        "set weight be/s1 50%", "get weight be/s1", "set weight be2/y 300%", "get weight be2/y",
        "set maxconn server be2/y x", "set maxconn frontend nope 1", "enable health be/s1", "show backend",
        "show cli level", "operator;show cli level", "show servers state nope", "show sta",
        "set timeout cli 0", "set timeout foo 1", "disable frontend nope", "enable frontend fe",
        "prompt\nshow cli level;get weight be/s1\nquit",
    ]

    static let userCommands = ["disable server be/s1", "clear counters", "operator", "show cli level", "show backend"]

    static let sequence = [
        "set server be/s1 state maint", "set server be/s1 state ready", "set server be/s1 state drain",
        "set server be/s1 state ready", "set server be/s2 state maint", "set server be/s2 state drain",
        "set server be/s2 state maint", "set server be/s2 state drain", "set server be/s2 state ready",
        "disable server be/s1", "disable server be/s2", "enable server be/s2", "enable server be/s1",
        "set server be2/x state ready", "disable frontend fe", "enable frontend fe",
    ]

    @Test func answersAndLinesEqualHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "runtime-api")
        let logs = try await LoopbackUDPReceiver()
        let messages = Messages(logs)
        let servers = [try await EchoBackend(), try await EchoBackend()]
        let haproxy = try Peers.find("haproxy")
        var answers: [String: [String]] = [:]
        var lines: [String: [String]] = [:]
        var states: [String: String] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            try Self.config(dir, who, logPort: logs.port, port: port, servers: servers.map(\.port))
                .write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"),
                (who == "haproxy" ? ["-db"] : []) + ["-f", dir.file("\(who).cfg")], logPath: dir.file("\(who).out"))
            defer { peer.stop() }
            let admin = dir.file("\(who)-admin.sock")
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) && access(admin, F_OK) == 0 })
            try await Task.sleep(for: .milliseconds(300))
            _ = messages.take()
            var said: [String] = []
            for command in Self.commands { said.append(try Self.socat(admin, command + "\n")) }
            for command in Self.userCommands { said.append(try Self.socat(dir.file("\(who)-user.sock"), command + "\n")) }
            // `unix-bind mode 0640` does not reach a `stats socket` in HAProxy 2.6 (only proxies' UNIX binds): the
            // same modes on both sides.
            for name in ["admin", "user"] {
                let mode = (try? FileManager.default.attributesOfItem(atPath: dir.file("\(who)-\(name).sock"))[.posixPermissions])
                said.append("\(name) socket mode \(String((mode as? Int) ?? 0, radix: 8))")
            }
            answers[who] = said
            for command in Self.sequence { _ = try Self.socat(admin, command + "\n") }
            // The ports and the seconds since the last change differ between the two runs.
            states[who] = try Self.socat(admin, "show servers state\n").split(separator: "\n").map { line in
                var fields = line.split(separator: " ").map(String.init)
                if fields.count == 25 { (fields[9], fields[18]) = ("T", "P") }
                return fields.joined(separator: " ")
            }.joined(separator: "\n")
            lines[who] = await messages.take(waitingFor: 18) { $0.contains(" Server ") || $0.contains(" frontend ") }
                .filter { !$0.contains("audit:") }
        }
        for (i, command) in (Self.commands + Self.userCommands + ["admin mode", "user mode"]).enumerated() {
            #expect(answers["proxy"]?[i] == answers["haproxy"]?[i], "\(command)")
        }
        #expect(answers["proxy"]?.suffix(2).first == "admin socket mode 600", "\(answers)")
        #expect(lines["proxy"] == lines["haproxy"])
        #expect(states["proxy"] == states["haproxy"])
        #expect(lines["proxy"]?.count ?? 0 >= 14)
    }

    @Test func maintenanceMovesTrafficAndIsAudited() async throws {
        let dir = try TemporaryDirectory(prefix: "runtime-api-traffic")
        let logs = try await LoopbackUDPReceiver()
        let messages = Messages(logs)
        let servers = [try await EchoBackend(), try await EchoBackend()]
        let port = try Peers.freePort()
        try Self.config(dir, "proxy", logPort: logs.port, port: port, servers: servers.map(\.port))
            .replacingOccurrences(of: " weight 10", with: "")
            .write(toFile: dir.file("proxy.cfg"), atomically: true, encoding: .utf8)
        let peer = try RunningPeer(
            try Products.path("proxy"), ["-f", dir.file("proxy.cfg")], logPath: dir.file("proxy.out"))
        defer { peer.stop() }
        let admin = dir.file("proxy-admin.sock")
        #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) && access(admin, F_OK) == 0 })
        // The socket is the configured mode, and its owner's.
        var status = stat()
        #expect(stat(admin, &status) == 0 && status.st_mode & 0o777 == 0o600)

        /// The servers of `count` sessions, one after the other, from their tcplog lines; the other lines are kept.
        var others: [String] = []
        func servedBy(_ count: Int) async throws -> [String] {
            var seen: [String] = []
            for _ in 0..<count {
                #expect(try Peers.exchange(port: port, Array("ping".utf8), halfClose: true) == Array("ping".utf8))
                for line in await messages.take(waitingFor: 1, { $0.contains(" fe be/") }) {
                    if let range = line.range(of: " fe be/") {
                        seen.append(String(line[range.upperBound...].prefix { $0 != " " }))
                    } else {
                        others.append(line)
                    }
                }
            }
            return seen
        }
        #expect(Set(try await servedBy(4)) == ["s1", "s2"])
        #expect(try Self.socat(admin, "disable server be/s1\n") == "\n")
        #expect(try await servedBy(4) == ["s2", "s2", "s2", "s2"])
        #expect(try Self.socat(admin, "show stat be 4 1\n").contains(",MAINT,"))
        #expect(try Self.socat(admin, "enable server be/s1\n") == "\n")
        #expect(Set(try await servedBy(4)) == ["s1", "s2"])
        // Denied on the user socket, and audited as such.
        #expect(try Self.socat(dir.file("proxy-user.sock"), "set weight be/s2 0\n") == "Permission denied\n\n")
        _ = try Self.socat(admin, "set weight be/s2 0\n")
        #expect(try await servedBy(2) == ["s1", "s1"])
        others += messages.take()
        let audit = others.filter { $0.contains(" audit: cli ") }
        let me = "uid=\(getuid()) pid="
        #expect(audit.count == 4, "\(audit)")
        #expect(audit.first?.contains("command=\"disable server be/s1\" result=ok \(me)") == true, "\(audit)")
        #expect(others.contains { $0.hasPrefix("<129> Server be/s1 is going DOWN for maintenance.") }, "\(others)")
        #expect(
            audit.dropFirst(2).first.map {
                $0.hasPrefix("<133> audit: cli command=\"set weight be/s2 0\" result=denied \(me)")
                    && $0.hasSuffix("socket=\(dir.file("proxy-user.sock"))")
            } == true, "\(audit)")
        #expect(audit.last?.contains("command=\"set weight be/s2 0\" result=ok \(me)") == true, "\(audit)")
        // The maintenance lines came before, as HAProxy words them (checked beside it above).
        peer.stop()
        #expect(access(admin, F_OK) != 0, "the socket file is removed when the proxy stops")
    }

    /// A reload as HAProxy's operators do it: `show servers state` into the `server-state-file`, then a new process
    /// with `-sf` taking over. Maintenance, drain, an operator's weight, disabled health checks and a DOWN server
    /// come back in the new process as in HAProxy's, with the same warnings; the new process's socket replaced the
    /// old one's and is still there once the old one has gone.
    @Test func stateSurvivesAReloadAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "runtime-api-reload")
        let servers = [try await EchoBackend(), try await EchoBackend()]
        let closedRefusing = try RefusingPort()
        defer { closedRefusing.close() }
        let closed = closedRefusing.port
        let haproxy = try Peers.find("haproxy")
        var states: [String: String] = [:]
        var warnings: [String: [String]] = [:]
        func masked(_ text: String) -> String {
            text.split(separator: "\n").map { line in
                var fields = line.split(separator: " ").map(String.init)
                if fields.count == 25 { (fields[9], fields[18]) = ("T", "P") }
                return fields.joined(separator: " ")
            }.joined(separator: "\n")
        }
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            let socket = dir.file("\(who).sock")
            try """
                global
                    stats socket \(socket) level admin
                    server-state-file \(dir.file("\(who).state"))
                defaults
                    mode tcp
                    load-server-state-from-file global
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                frontend fe
                    bind 127.0.0.1:\(port)
                    default_backend be
                backend be
                    server s1 127.0.0.1:\(servers[0].port) weight 10
                    server s2 127.0.0.1:\(servers[1].port) weight 10
                    server s3 127.0.0.1:\(closed) check inter 300ms
                    server s4 127.0.0.1:\(servers[1].port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let program = who == "haproxy" ? haproxy : try Products.path("proxy")
            let first = try RunningPeer(
                program, (who == "haproxy" ? ["-db"] : []) + ["-f", dir.file("\(who).cfg")],
                logPath: dir.file("\(who)-1.out"))
            defer { first.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) && access(socket, F_OK) == 0 })
            for command in [
                "set server be/s1 state maint", "set server be/s2 state drain", "set weight be/s4 3",
            ] {
                _ = try Self.socat(socket, command + "\n")
            }
            // s3's checks find it DOWN, then an operator stops them.
            #expect(
                try Peers.waitUntil(seconds: 10) {
                    try Self.socat(socket, "show servers state be\n").contains(" s3 127.0.0.1 0 ")
                })
            _ = try Self.socat(socket, "disable health be/s3\n")
            let saved = try Self.socat(socket, "show servers state\n")
            try saved.write(toFile: dir.file("\(who).state"), atomically: true, encoding: .utf8)
            let second = try RunningPeer(
                program,
                (who == "haproxy" ? ["-db"] : []) + ["-f", dir.file("\(who).cfg"), "-sf", "\(first.pid)"],
                logPath: dir.file("\(who)-2.out"))
            defer { second.stop() }
            #expect(Peers.waitUntil(seconds: 10) { !first.isRunning }, "\(who): the old process did not stop")
            #expect(access(socket, F_OK) == 0, "\(who): the new process's socket is gone")
            let after = try Self.socat(socket, "show servers state\n")
            // As HAProxy: the same states, but for the health of servers without checks (rise+fall-1 once running).
            #expect(masked(after).replacingOccurrences(of: " 0 4 0 0 ", with: " 0 2 0 0 ") == masked(saved), "\(who)")
            states[who] = masked(after)
            warnings[who] = second.output.split(separator: "\n").compactMap { line in
                line.range(of: "config : Server ").map { String(line[$0.lowerBound...].dropFirst("config : ".count)) }
            }
        }
        #expect(states["proxy"] == states["haproxy"])
        #expect(warnings["proxy"] == warnings["haproxy"])
        #expect(warnings["proxy"]?.count == 3, "\(warnings)")
    }

    /// A small pty driver for hatop (a curses program): waits for its screen, types `keys`, quits with `q`.
    static let hatopDriver = """
        import os, pty, sys, time, select, fcntl, termios, struct, signal
        pid, fd = pty.fork()
        if pid == 0:
            os.environ['TERM'] = 'xterm'
            os.execvp('hatop', ['hatop', '-s', sys.argv[1], '-i', '1'])
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 140, 0, 0))
        out = b''
        def pump(seconds):
            global out
            end = time.time() + seconds
            while time.time() < end:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        return
        pump(3)
        for k in sys.argv[2:] + ['q']:
            os.write(fd, k.encode().decode('unicode_escape').encode('latin-1'))
            pump(1.0)
        code = 98
        for i in range(200):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 97
                break
            if i % 30 == 29:
                try:
                    os.write(fd, b'q')
                except OSError:
                    pass
            pump(0.1)
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        sys.stdout.buffer.write(out)
        sys.exit(code)

        """

    @Test func hatopDrivesTheProxy() async throws {
        let hatop = try Peers.find("hatop")
        let dir = try TemporaryDirectory(prefix: "runtime-api-hatop")
        let logs = try await LoopbackUDPReceiver()
        let servers = [try await EchoBackend(), try await EchoBackend()]
        let port = try Peers.freePort()
        try Self.config(dir, "proxy", logPort: logs.port, port: port, servers: servers.map(\.port))
            .write(toFile: dir.file("proxy.cfg"), atomically: true, encoding: .utf8)
        try Self.hatopDriver.write(toFile: dir.file("drive.py"), atomically: true, encoding: .utf8)
        let peer = try RunningPeer(
            try Products.path("proxy"), ["-f", dir.file("proxy.cfg")], logPath: dir.file("proxy.out"))
        defer { peer.stop() }
        let admin = dir.file("proxy-admin.sock")
        #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) && access(admin, F_OK) == 0 })
        // ESC-5: hatop's command line mode; the command; ESC-1 back to the status view; q.
        let run = try Peers.run(
            try Peers.find("python3"), [dir.file("drive.py"), admin, "\\x1b5", "disable server be/s1\\r", "\\x1b1"],
            timeout: 60)
        let screen = String(decoding: run.stdout, as: UTF8.self)
        #expect(
            run.status == 0,
            "hatop (\(hatop)) ended with \(run.status): \(String(decoding: run.stderr, as: UTF8.self)) \(screen.suffix(600))")
        #expect(screen.contains("Tollgate Version: 0.1.0"))
        #expect(screen.contains("disable server be/s1"))
        let state = try Self.socat(admin, "show servers state be\n").split(separator: "\n")
        #expect(state.count == 4 && state[2].split(separator: " ")[6] == "1", "\(state)")
    }
}

/// Sessions ended from outside, beside HAProxy: `on-marked-down shutdown-sessions` when the server's check fails
/// (a TCP session logged `D-`, an HTTP request waiting on its server as HAProxy logs it), and the runtime API's
/// `shutdown sessions server` (`K-`).
@Suite("Sessions ended from outside beside HAProxy", .serialized)
struct SessionShutdownTests {
    @Test func markedDownAndShutdownSessionsEndAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "shutdown-sessions")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let echo = try await EchoBackend()
        let stalled = try StalledServer()
        let haproxy = try Peers.find("haproxy")
        var states: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let check = try await LineResponder(reply: "")
            let (down, killed, downHTTP) = (try Peers.freePort(), try Peers.freePort(), try Peers.freePort())
            let socket = dir.file("\(who).sock")
            try """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                    stats socket \(socket) level admin
                defaults
                    log global
                    mode tcp
                    option tcplog
                    timeout connect 1s
                    timeout client 300s
                    timeout server 300s
                listen down
                    bind 127.0.0.1:\(down)
                    server s 127.0.0.1:\(echo.port) check port \(check.port) inter 200ms fall 1 rise 1 on-marked-down shutdown-sessions
                listen killed
                    bind 127.0.0.1:\(killed)
                    server k 127.0.0.1:\(echo.port)
                listen downhttp
                    bind 127.0.0.1:\(downHTTP)
                    mode http
                    option httplog
                    server h 127.0.0.1:\(stalled.port) check port \(check.port) inter 200ms fall 1 rise 1 on-marked-down shutdown-sessions

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"),
                (who == "haproxy" ? ["-db"] : []) + ["-f", dir.file("\(who).cfg")], logPath: dir.file("\(who).out"))
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: down) && access(socket, F_OK) == 0 })
            // Two sessions that stay open, one on each TCP server, and an HTTP request its server never answers.
            // (Their timeouts are far beyond the test: in the whole suite, HAProxy's 30 s once ended one first, `cD`.)
            let a = try Peers.connectLoopback(port: down, timeoutSeconds: 10)
            let b = try Peers.connectLoopback(port: killed, timeoutSeconds: 10)
            let c = try Peers.connectLoopback(port: downHTTP, timeoutSeconds: 10)
            defer {
                close(a)
                close(b)
                close(c)
            }
            let request = Array("GET / HTTP/1.1\r\nHost: example\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
            // The three on their servers (and the readiness probes gone) before anything ends them: `show sess` says
            // so on both sides (a loaded machine may take a while).
            // Found by their clients' ports: the readiness probes' sessions (and their lines) are not these.
            let clients = [a, b, c].map { " 127.0.0.1:\(ShowSessInteropTests.localPort($0)) " }
            var listed = ""
            #expect(
                try Peers.waitUntil(seconds: 20) {
                    listed = try RuntimeAPIInteropTests.socat(socket, "show sess\n")
                    let lines = listed.split(separator: "\n").map { " " + $0.replacingOccurrences(of: "src=", with: " ") + " " }
                    return zip(clients, [" srv=s ", " srv=k ", " srv=h "]).allSatisfy { client, srv in
                        lines.contains { $0.contains(client) && $0.contains(srv) }
                    }
                }, "\(who): \(listed)")
            _ = messages.take()
            try await check.close()
            _ = try RuntimeAPIInteropTests.socat(socket, "shutdown sessions server killed/k\n")
            // The connections end from the proxy's side.
            #expect(Peers.readUntilClosed(a).isEmpty && Peers.readUntilClosed(b).isEmpty, "\(who)")
            let names = [" down down/s ", " killed killed/k ", " downhttp downhttp/h "]
            func ours(_ line: String) -> Bool {
                names.contains { line.contains($0) } && clients.contains { line.contains($0) }
            }
            let lines = await messages.take(waitingFor: 3, seconds: 20, ours)
            states[who] = lines.compactMap { line -> String? in
                guard ours(line) else { return nil }
                let words = line.split(separator: " ")
                // The proxy/server and the termination state (after the bytes in tcplog, after the two capture
                // dashes in httplog).
                guard let at = words.firstIndex(where: { $0.hasSuffix("/s") || $0.hasSuffix("/k") || $0.hasSuffix("/h") })
                else { return nil }
                let state = words[at].hasSuffix("/h") ? at + 6 : at + 3
                return state < words.count ? "\(words[at]) \(words[state])" : nil
            }.sorted()
        }
        #expect(states["proxy"] == states["haproxy"])
        #expect(states["proxy"]?.filter { !$0.hasPrefix("downhttp") } == ["down/s D-", "killed/k K-"], "\(states)")
        #expect(states["proxy"]?.count == 3, "\(states)")
    }
}


/// `timeout server-fin` beside HAProxy: a client that sends and shuts its side, a server that never closes: the
/// session ends after `server-fin` (not `timeout server`), logged `sD` by both.
@Suite("Half-closed timeouts beside HAProxy", .serialized)
struct HalfClosedTimeoutTests {
    @Test func serverFinEndsAHalfClosedSession() async throws {
        let dir = try TemporaryDirectory(prefix: "server-fin")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let silent = try await LineResponder(reply: "ok\n")
        let haproxy = try Peers.find("haproxy")
        var ends: [String: String] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            try """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                defaults
                    log global
                    mode tcp
                    option tcplog
                    timeout connect 1s
                    timeout client 30s
                    timeout server 30s
                    timeout server-fin 1s
                listen l
                    bind 127.0.0.1:\(port)
                    server s 127.0.0.1:\(silent.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"),
                (who == "haproxy" ? ["-db"] : []) + ["-f", dir.file("\(who).cfg")], logPath: dir.file("\(who).out"))
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) })
            try await Task.sleep(for: .milliseconds(200))
            _ = messages.take()
            let started = ContinuousClock.now
            // The answer comes, then the server keeps its side open: the proxy ends it after server-fin.
            let answer = try Peers.exchange(port: port, Array("hello\n".utf8), halfClose: true)
            let took = ContinuousClock.now - started
            #expect(answer == Array("ok\n".utf8), "\(who)")
            #expect(took < .seconds(10), "\(who): \(took)")
            let lines = await messages.take(waitingFor: 1, { $0.contains(" l l/s ") })
            ends[who] = lines.first { $0.contains(" l l/s ") }?.split(separator: " ").dropFirst(7).first.map(String.init)
        }
        #expect(ends["proxy"] == ends["haproxy"])
        #expect(ends["proxy"] == "sD", "\(ends)")
    }
}

/// Seamless reloads beside HAProxy: clients connect without pause while the program is reloaded 20 times, each new
/// process taking the listening sockets over the stats socket (`-x`, `expose-fd listeners`) and the old one
/// finishing softly (`-sf`): no connection fails, for HAProxy and for the proxy.
@Suite("Seamless reloads beside HAProxy", .serialized)
struct SeamlessReloadTests {
    /// Four clients connecting, sending `ping`, reading the echo and closing, without pause, until `stop`; each
    /// exchange counted, each failure kept.
    final class Load: @unchecked Sendable {
        private let lock = NSLock()
        private var running = true
        private(set) var done = 0
        private(set) var failures: [String] = []

        init(port: Int) {
            for _ in 0..<4 {
                Thread { [self] in
                    while isRunning {
                        do {
                            let reply = try Peers.exchange(port: port, Array("ping".utf8), halfClose: true)
                            record(reply == Array("ping".utf8) ? nil : "answer \(reply.count) bytes")
                        } catch {
                            record("\(error)")
                        }
                    }
                }.start()
            }
        }

        var isRunning: Bool { lock.withLock { running } }
        func stop() { lock.withLock { running = false } }
        func record(_ failure: String?) {
            lock.withLock {
                done += 1
                if let failure { failures.append(failure) }
            }
        }
    }

    @Test func twentyReloadsUnderLoadLoseNoConnection() async throws {
        let dir = try TemporaryDirectory(prefix: "seamless")
        let echo = try await EchoBackend()
        let haproxy = try Peers.find("haproxy")
        var results: [String: (done: Int, failures: [String])] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            let socket = dir.file("\(who).sock")
            try """
                global
                    stats socket \(socket) mode 600 level admin expose-fd listeners
                defaults
                    mode tcp
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                listen l
                    bind 127.0.0.1:\(port)
                    server e 127.0.0.1:\(echo.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let program = who == "haproxy" ? haproxy : try Products.path("proxy")
            let foreground = who == "haproxy" ? ["-db"] : []
            var current = try RunningPeer(
                program, foreground + ["-f", dir.file("\(who).cfg")], logPath: dir.file("\(who)-0.out"))
            var all = [current]
            defer { for peer in all { peer.stop() } }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) && access(socket, F_OK) == 0 })
            let load = Load(port: port)
            for reload in 1...20 {
                let next = try RunningPeer(
                    program, foreground + ["-f", dir.file("\(who).cfg"), "-x", socket, "-sf", "\(current.pid)"],
                    logPath: dir.file("\(who)-\(reload).out"))
                all.append(next)
                let old = current
                #expect(Peers.waitUntil(seconds: 10) { !old.isRunning }, "\(who): reload \(reload): the old process stays")
                current = next
            }
            try await Task.sleep(for: .milliseconds(300))
            load.stop()
            try await Task.sleep(for: .milliseconds(300))
            results[who] = (load.done, load.failures)
        }
        for (who, r) in results {
            #expect(r.failures.isEmpty, "\(who): \(r.failures.count) of \(r.done) failed: \(r.failures.prefix(5))")
            #expect(r.done > 100, "\(who): \(r.done) exchanges")
        }
    }

    /// Master-worker mode (`-W`): ten SIGUSR2 reloads of the master under the same load, a new worker each time,
    /// nothing lost, for HAProxy and for the proxy; SIGTERM ends the master and its worker.
    @Test func masterWorkerReloadsUnderLoadLoseNoConnection() async throws {
        let dir = try TemporaryDirectory(prefix: "master-worker")
        let echo = try await EchoBackend()
        let haproxy = try Peers.find("haproxy")
        var results: [String: (done: Int, failures: [String])] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            let socket = dir.file("\(who).sock")
            try """
                global
                    master-worker
                    stats socket \(socket) mode 600 level admin expose-fd listeners
                defaults
                    mode tcp
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                listen l
                    bind 127.0.0.1:\(port)
                    server e 127.0.0.1:\(echo.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let master = try RunningPeer(
                who == "haproxy" ? haproxy : try Products.path("proxy"), ["-f", dir.file("\(who).cfg")],
                logPath: dir.file("\(who).out"))
            defer { master.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) })
            let load = Load(port: port)
            for _ in 1...10 {
                master.send(signal: SIGUSR2)
                try await Task.sleep(for: .milliseconds(800))
            }
            load.stop()
            try await Task.sleep(for: .milliseconds(300))
            results[who] = (load.done, load.failures)
            if who == "proxy" {
                let reloads = master.output.components(separatedBy: "master: reloaded, worker").count - 1
                #expect(reloads == 10, "\(master.output)")
            }
            master.send(signal: SIGTERM)
            #expect(Peers.waitUntil(seconds: 10) { !master.isRunning && !Peers.isListening(port: port) }, "\(who)")
        }
        for (who, r) in results {
            #expect(r.failures.isEmpty, "\(who): \(r.failures.count) of \(r.done) failed: \(r.failures.prefix(5))")
            #expect(r.done > 100, "\(who): \(r.done) exchanges")
        }
        #expect(results.count == 2)
    }
}
