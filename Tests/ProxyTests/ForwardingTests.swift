import Foundation
import HAProxyLog
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TestSupport
import Testing

@testable import Proxy

@Suite("Forwarding TCP sessions, logged as tcplog", .serialized)
struct ForwardingTests {
    func config(proxyPort: Int, logPort: Int, servers: [String], extra: String = "") -> String {
        """
        global
            log 127.0.0.1:\(logPort) local0 info
        defaults
            log global
            mode tcp
            option tcplog
            retries 2
            option redispatch
            timeout connect 1s
            timeout client 10s
            timeout server 10s
            option log-separate-errors
        listen mycat_servers
            bind 127.0.0.1:\(proxyPort)
            balance roundrobin
        \(servers.map { "    server " + $0 }.joined(separator: "\n"))
        \(extra)
        """
    }

    func nextTraffic(_ logs: LoopbackUDPReceiver) async -> (datagram: String, line: HAProxyLogRecord?)? {
        await logs.nextTraffic()
    }

    @Test func sessionsAreRelayedBalancedAndLoggedAsHAProxyLogsThem() async throws {
        let a = try await EchoBackend()
        let b = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        let c = try HAProxyConfigParser.parse(
            text: config(
                proxyPort: port, logPort: logs.port,
                servers: ["mycat_01 127.0.0.1:\(a.port) weight 10", "mycat_02 127.0.0.1:\(b.port) weight 10"]))
        let proxy = try ProxyRuntime(configuration: c, threads: 2)
        _ = try await proxy.start()
        var servers: [String] = []
        for n in 1...4 {
            let request = Array("query \(n)".utf8)
            let reply = try Peers.exchange(port: port, request, halfClose: true)
            #expect(reply == request)
            let logged = try #require(await nextTraffic(logs))
            #expect(logged.datagram.hasPrefix("<134>"), "local0.info: \(logged.datagram)")
            let line = try #require(logged.line)
            #expect(line.frontend == "mycat_servers" && line.backend == "mycat_servers")
            #expect(line.terminationState == .normal && line.bytesRead == Int64(request.count))
            servers.append(line.server)
        }
        #expect(servers == ["mycat_01", "mycat_02", "mycat_01", "mycat_02"])
        try await proxy.stop()
        try await a.close()
        try await b.close()
        try await logs.close()
    }

    /// `bind :::PORT v6only` takes IPv6 clients only; without it (or with `v4v6`) an IPv6 listener takes IPv4 ones
    /// too, as HAProxy's on Linux.
    @Test func v6onlyListenersRefuseIPv4Clients() async throws {
        let echo = try await EchoBackend()
        let (only, both) = (try Peers.freePort(), try Peers.freePort())
        let c = try HAProxyConfigParser.parse(
            text: """
                defaults
                    mode tcp
                listen six
                    bind :::\(only) v6only
                    server e 127.0.0.1:\(echo.port)
                listen dual
                    bind :::\(both) v4v6
                    server e 127.0.0.1:\(echo.port)

                """)
        let proxy = try ProxyRuntime(configuration: c, threads: 1)
        _ = try await proxy.start()
        func connects(_ host: String, _ port: Int) -> Bool {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, "\(port)", &hints, &list) == 0, let info = list else { return false }
            defer { freeaddrinfo(list) }
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, 0)
            defer { close(fd) }
            return connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0
        }
        #expect(!connects("127.0.0.1", only))
        #expect(connects("::1", only))
        #expect(connects("127.0.0.1", both) && connects("::1", both))
        try await proxy.stop()
        try await echo.close()
    }

    /// `timeout client` counts from the last byte either way: a client that talks, then goes quiet, is cut after
    /// the timeout with `cD`; `timeout server` the same for a server that goes quiet, `sD`.
    @Test(arguments: [("client", "cD"), ("server", "sD")])
    func anIdleSideIsCutByItsTimeout(side: String, state: String) async throws {
        let echo = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        let c = try HAProxyConfigParser.parse(
            text: config(
                proxyPort: port, logPort: logs.port, servers: ["s 127.0.0.1:\(echo.port)"],
                extra: "    timeout \(side) 400ms"))
        let proxy = try ProxyRuntime(configuration: c, threads: 1)
        _ = try await proxy.start()
        let (first, second, closedAfter) = try await blocking { () -> (String, String, Double) in
            let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 16)
            _ = send(fd, "one", 3, 0)
            let n1 = recv(fd, &buffer, buffer.count, 0)
            let first = String(decoding: buffer[..<max(n1, 0)], as: UTF8.self)
            // Activity after the first 300 ms keeps the session: the timeout counts from the last byte.
            usleep(300_000)
            _ = send(fd, "two", 3, 0)
            let n2 = recv(fd, &buffer, buffer.count, 0)
            let second = String(decoding: buffer[..<max(n2, 0)], as: UTF8.self)
            let quiet = Date()
            _ = Peers.readUntilClosed(fd)
            return (first, second, Date().timeIntervalSince(quiet))
        }
        #expect(first == "one" && second == "two")
        #expect(closedAfter >= 0.3 && closedAfter < 4, "closed \(closedAfter) s after the last byte")
        let line = try #require(await nextTraffic(logs)?.line)
        #expect(line.terminationState == TerminationState(state), "\(line)")
        #expect(line.bytesRead == 6)
        try await proxy.stop()
        try await echo.close()
        try await logs.close()
    }

    /// `maxconn` on a frontend and on the process: a connection beyond the limit is not refused, it waits (nothing
    /// relayed) until a session ends, then goes through as a session of its own.
    @Test(arguments: ["frontend", "global"])
    func maxconnHoldsConnectionsUntilASlotFrees(level: String) async throws {
        let echo = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let first = try Peers.freePort()
        let second = try Peers.freePort()
        let c = try HAProxyConfigParser.parse(
            text: """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                    \(level == "global" ? "maxconn 1" : "")
                defaults
                    log global
                    mode tcp
                    option tcplog
                    timeout connect 1s
                    timeout client 10s
                    timeout server 10s
                    \(level == "frontend" ? "maxconn 1" : "")
                listen one
                    bind 127.0.0.1:\(first)
                    server s 127.0.0.1:\(echo.port)
                listen two
                    bind 127.0.0.1:\(second)
                    server s 127.0.0.1:\(echo.port)
                """)
        let proxy = try ProxyRuntime(configuration: c, threads: 2)
        _ = try await proxy.start()
        // Frontend limit: the waiting connection is on the same frontend; process limit: on another one.
        let otherPort = level == "global" ? second : first
        let replies = try await blocking { () -> [String] in
            var buffer = [UInt8](repeating: 0, count: 16)
            let a = try Peers.connectLoopback(port: first, timeoutSeconds: 5)
            _ = send(a, "held", 4, 0)
            let n1 = recv(a, &buffer, buffer.count, 0)
            let held = String(decoding: buffer[..<max(n1, 0)], as: UTF8.self)
            let b = try Peers.connectLoopback(port: otherPort, timeoutSeconds: 1)
            _ = send(b, "waiting", 7, 0)
            let n2 = recv(b, &buffer, buffer.count, 0)
            let early = n2 > 0 ? String(decoding: buffer[..<n2], as: UTF8.self) : "(nothing)"
            close(a)
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let n3 = recv(b, &buffer, buffer.count, 0)
            let late = String(decoding: buffer[..<max(n3, 0)], as: UTF8.self)
            close(b)
            return [held, early, late]
        }
        #expect(replies == ["held", "(nothing)", "waiting"], "\(level) maxconn 1")
        var lines: [HAProxyLogRecord] = []
        while lines.count < 2, let logged = await nextTraffic(logs), let line = logged.line { lines.append(line) }
        // In the order of their accept dates: two event loops log them, and on a busy machine the second session's
        // line may leave before the first's.
        lines.sort { $0.date.epochMicroseconds < $1.date.epochMicroseconds }
        #expect(lines.map(\.terminationState) == [.normal, .normal])
        #expect(lines.map(\.bytesRead) == [4, 7])
        #expect(lines.last?.frontendConnections == 1, "the held connection became a session once the first ended")
        try await proxy.stop()
        try await echo.close()
        try await logs.close()
    }

    @Test func aRefusingServerIsRetriedThenRedispatchedAndNoServerGivesSC() async throws {
        let a = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port  // nothing listens there
        let c = try HAProxyConfigParser.parse(
            text: config(
                proxyPort: port, logPort: logs.port, servers: ["dead 127.0.0.1:\(dead)", "alive 127.0.0.1:\(a.port)"]))
        let proxy = try ProxyRuntime(configuration: c, threads: 1)
        _ = try await proxy.start()
        let reply = try Peers.exchange(port: port, Array("to dead first".utf8), halfClose: true)
        #expect(reply == Array("to dead first".utf8), "the last retry went to the other server")
        let line = try #require(await nextTraffic(logs)?.line)
        #expect(line.server == "alive" && line.retries == 1 && line.redispatched, "HAProxy 2.6 logs +1 here")
        try await proxy.stop()
        try await logs.close()

        // Every server refuses: SC after the retries, the client closed, the line at err.
        let logs2 = try await LoopbackUDPReceiver()
        let port2 = try Peers.freePort()
        let c2 = try HAProxyConfigParser.parse(
            text: config(proxyPort: port2, logPort: logs2.port, servers: ["dead 127.0.0.1:\(dead)"]))
        let proxy2 = try ProxyRuntime(configuration: c2, threads: 1)
        _ = try await proxy2.start()
        let none = try Peers.exchange(port: port2, Array("x".utf8), halfClose: true)
        #expect(none.isEmpty)
        let failed = try #require(await nextTraffic(logs2))
        #expect(failed.datagram.hasPrefix("<131>"), "local0.err: \(failed.datagram)")
        #expect(failed.line?.terminationState == TerminationState("SC") && failed.line?.connectTime == -1)
        try await proxy2.stop()
        try await logs2.close()
        try await a.close()
    }

    @Test func eightMegabytesEachWayArriveIntactThroughBackPressure() async throws {
        let a = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        let c = try HAProxyConfigParser.parse(
            text: config(proxyPort: port, logPort: logs.port, servers: ["a 127.0.0.1:\(a.port)"]))
        let proxy = try ProxyRuntime(configuration: c, threads: 2)
        _ = try await proxy.start()
        var payload = [UInt8](repeating: 0, count: 8 << 20)
        for i in payload.indices { payload[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        // Sent from a thread while this one reads the echo: neither side may wait for the other.
        let sent = payload
        let reply = try await Task.detached { try Peers.exchangeStreaming(port: port, sent) }.value
        #expect(reply.count == payload.count && reply == payload)
        let line = try #require(await nextTraffic(logs)?.line)
        #expect(line.bytesRead == Int64(payload.count) && line.terminationState == .normal)
        try await proxy.stop()
        try await a.close()
        try await logs.close()
    }
}

@Suite("The proxy under a service manager", .serialized)
struct ProxyServiceTests {
    /// A directory with a notify socket and a TCP proxy's haproxy.cfg in front of an echo server (`takeOver`: with a
    /// stats socket that hands the listeners to the next worker).
    func setUp(_ prefix: String, takeOver: Bool = false) async throws
        -> (TemporaryDirectory, NotifySocket, EchoBackend, Int)
    {
        let dir = try TemporaryDirectory(prefix: prefix)
        let notify = try NotifySocket(path: dir.file("notify"))
        let backend = try await EchoBackend()
        let port = try Peers.freePort()
        let global = takeOver ? "global\n    stats socket \(dir.file("admin.sock")) level admin expose-fd listeners\n" : ""
        try """
        \(global)defaults
            mode tcp
            timeout connect 1s
        listen l
            bind 127.0.0.1:\(port)
            server s 127.0.0.1:\(backend.port)

        """.write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
        return (dir, notify, backend, port)
    }

    @Test func readyWatchdogAndStoppingReachTheNotifySocket() async throws {
        let (dir, notify, backend, port) = try await setUp("proxy-notify")
        let proxy = try RunningPeer(
            try Products.path("proxy"), ["-f", dir.file("haproxy.cfg")], logPath: dir.file("proxy.out"),
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        defer { proxy.stop() }
        let ready = try #require(notify.next(), "\(proxy.output)")
        #expect(ready == "READY=1\nSTATUS=listening on 127.0.0.1:\(port)")
        #expect(try Peers.exchange(port: port, Array("up".utf8), halfClose: true) == Array("up".utf8))
        #expect(notify.waitForPings(2))
        proxy.send(signal: SIGTERM)
        #expect(notify.next() == "STOPPING=1")
        try await backend.close()
    }

    /// `-Ws`: the master is the unit's main process; it says READY with its pid, RELOADING and READY around a
    /// SIGUSR2 reload, STOPPING at the end, and passes its workers' watchdog pings on (a worker cannot reach the
    /// service manager itself: the unit's main pid is the master's).
    @Test func theMasterSpeaksForItsWorkersUnderAServiceManager() async throws {
        let (dir, notify, backend, port) = try await setUp("proxy-notify-master", takeOver: true)
        let master = try RunningPeer(
            try Products.path("proxy"), ["-Ws", "-f", dir.file("haproxy.cfg")], logPath: dir.file("proxy.out"),
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        defer { master.stop() }
        // The master's own states, in order; the workers' STATUS= lines (relayed) are kept aside.
        var statuses: [String] = []
        func state() -> String? {
            while let message = notify.next() {
                if message.hasPrefix("STATUS=") { statuses.append(message) } else { return message }
            }
            return nil
        }
        let ready = try #require(state(), "\(master.output)")
        #expect(ready == "READY=1\nMAINPID=\(master.pid)")
        #expect(try Peers.exchange(port: port, Array("up".utf8), halfClose: true) == Array("up".utf8))
        // The worker's pings, relayed: they keep coming while the worker's loop runs.
        #expect(notify.waitForPings(3), "\(master.output)")
        master.send(signal: SIGUSR2)
        #expect(state() == "RELOADING=1")
        #expect(state() == "READY=1", "\(master.output)")
        #expect(master.output.contains("master: reloaded"))
        let before = notify.pings
        #expect(notify.waitForPings(before + 3), "the new worker's pings are relayed too")
        #expect(try Peers.exchange(port: port, Array("again".utf8), halfClose: true) == Array("again".utf8))
        master.send(signal: SIGTERM)
        #expect(state() == "STOPPING=1")
        #expect(statuses.contains("STATUS=listening on 127.0.0.1:\(port)"), "\(statuses)")
        #expect(Peers.waitUntil(seconds: 10) { !master.isRunning })
        try await backend.close()
    }
}

@Suite("Soft stop and takeover", .serialized)
struct SoftStopTests {
    func config(_ port: Int, _ backend: Int) -> String {
        """
        defaults
            mode tcp
            timeout connect 1s
            timeout client 10s
            timeout server 10s
        listen l
            bind 127.0.0.1:\(port)
            server s 127.0.0.1:\(backend)
        
        """
    }

    @Test func sigusr1StopsAcceptingAndLetsOpenSessionsFinish() async throws {
        let dir = try TemporaryDirectory(prefix: "soft-stop")
        let backend = try await EchoBackend()
        let port = try Peers.freePort()
        try config(port, backend.port).write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let proxy = try RunningPeer(try Products.path("proxy"), ["-f", dir.file("p.cfg")], logPath: dir.file("p.out"))
        defer { proxy.stop() }
        #expect(Peers.waitUntil(seconds: 10) { proxy.output.contains("listening on") })
        // A session that is open when the soft stop comes, and finishes after it.
        let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
        defer { close(fd) }
        // The session must be through to the server (not still in the listen backlog) before the soft stop.
        _ = Array("early".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var echo = [UInt8](repeating: 0, count: 5)
        let got = echo.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 5, Int32(MSG_WAITALL)) }
        #expect(got == 5 && echo == Array("early".utf8))
        proxy.send(signal: SIGUSR1)
        #expect(Peers.waitUntil(seconds: 5) { !Peers.isListening(port: port) }, "no new connections")
        #expect(proxy.isRunning, "the open session keeps the process")
        _ = Array("late".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        shutdown(fd, Int32(SHUT_WR))
        #expect(Peers.readUntilClosed(fd) == Array("late".utf8))
        #expect(Peers.waitUntil(seconds: 5) { !proxy.isRunning }, "gone once its last session ended")
        try await backend.close()
    }

    /// The audit trail: `audit: start` with the configuration's SHA-256 when the proxy listens, `audit: soft-stop`
    /// on SIGUSR1, at notice level through the global log targets, read back as audit events.
    @Test func startAndStopAreAuditedWithTheConfigurationsHash() async throws {
        let dir = try TemporaryDirectory(prefix: "audit")
        let backend = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        try ("global\n    log 127.0.0.1:\(logs.port) local0 info\n" + config(port, backend.port))
            .write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let sum = try Peers.run("/usr/bin/sha256sum", [dir.file("p.cfg")])
        let hash = String(String(decoding: sum.stdout, as: UTF8.self).prefix(64))
        let proxy = try RunningPeer(try Products.path("proxy"), ["-f", dir.file("p.cfg")], logPath: dir.file("p.out"))
        defer { proxy.stop() }
        #expect(Peers.waitUntil(seconds: 10) { proxy.output.contains("listening on") })
        proxy.send(signal: SIGUSR1)
        var audit: [String] = []
        while audit.count < 2, let datagram = await logs.next() {
            let text = String(decoding: datagram, as: UTF8.self)
            guard let colon = text.range(of: "]: "), text.contains("audit: ") else { continue }
            #expect(text.hasPrefix("<133>"), "local0.notice: \(text)")
            let message = String(text[colon.upperBound...])
            guard case .audit(let what)? = HAProxyEvent(message: message) else {
                Issue.record("not read back as an audit event: \(message)")
                continue
            }
            audit.append(what)
        }
        #expect(audit.count == 2)
        #expect(
            audit.first?.hasPrefix("start pid=\(proxy.pid) version=") == true
                && audit.first?.contains(" config=sha256:\(hash) files=\(dir.file("p.cfg"))") == true, "\(audit)")
        #expect(audit.last == "soft-stop pid=\(proxy.pid) signal=SIGUSR1", "\(audit)")
        try await backend.close()
        try await logs.close()
    }

    /// The usual reload, `proxy -p FILE -sf $(cat FILE)`: the pidfile names the new process afterwards (the old one
    /// leaving must not remove it), so the next reload finds it.
    @Test func aNewProcessTakesThePortsWithSfAndThePidfileNamesIt() async throws {
        let dir = try TemporaryDirectory(prefix: "takeover")
        let backend = try await EchoBackend()
        let port = try Peers.freePort()
        try config(port, backend.port).write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let pidfile = dir.file("p.pid")
        func named() -> Int32? {
            (try? String(contentsOfFile: pidfile, encoding: .utf8)).flatMap {
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        let old = try RunningPeer(
            try Products.path("proxy"), ["-f", dir.file("p.cfg"), "-p", pidfile], logPath: dir.file("old.out"))
        defer { old.stop() }
        #expect(Peers.waitUntil(seconds: 10) { old.output.contains("listening on") })
        let first = try #require(named())
        #expect(first == old.pid)
        let new = try RunningPeer(
            try Products.path("proxy"), ["-f", dir.file("p.cfg"), "-p", pidfile, "-sf", "\(first)"],
            logPath: dir.file("new.out"))
        defer { new.stop() }
        #expect(Peers.waitUntil(seconds: 10) { new.output.contains("listening on") }, "\(new.output)")
        #expect(Peers.waitUntil(seconds: 5) { !old.isRunning }, "the old process finished and left")
        #expect(named() == new.pid, "the old process left the new one's pidfile in place")
        #expect(
            try Peers.exchange(port: port, Array("to the new one".utf8), halfClose: true)
                == Array("to the new one".utf8))
        // A pidfile that cannot be created stops the newcomer, as HAProxy; the running process goes on serving.
        let refused = try Peers.run(
            try Products.path("proxy"),
            ["-f", dir.file("p.cfg"), "-p", dir.file("missing/p.pid"), "-sf", "\(new.pid)"])
        let said = String(decoding: refused.stderr, as: UTF8.self)
        #expect(refused.status == 1)
        #expect(said.contains("[ALERT] cannot create pidfile \(dir.file("missing/p.pid"))"), "\(said)")
        #expect(new.isRunning && named() == new.pid)
        #expect(try Peers.exchange(port: port, Array("still".utf8), halfClose: true) == Array("still".utf8))
        new.send(signal: SIGTERM)
        #expect(Peers.waitUntil(seconds: 5) { !new.isRunning })
        #expect(!FileManager.default.fileExists(atPath: pidfile), "a process removes its own pidfile as it stops")
        try await backend.close()
    }
}

@Suite("Daemon, pidfile, chroot and user", .serialized)
struct ProcessSetupTests {
    /// HAProxy's order, as the seed's global section asks: bind, pidfile, chroot, give up root, detach. Runs as root
    /// (as CI and `make test` do): giving up root needs it.
    @Test func aDaemonListensChrootedAsNobodyAndWritesItsPidfile() async throws {
        try #require(getuid() == 0, "the test gives up root: run it as root, as make test does")
        let dir = try TemporaryDirectory(prefix: "proxy-daemon")
        try FileManager.default.createDirectory(atPath: dir.file("jail"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("run"), withIntermediateDirectories: true)
        let echo = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        func config(chroot: String) -> String {
            """
            global
                log 127.0.0.1:\(logs.port) local0 info
                daemon
                pidfile /run/proxy.pid
                chroot \(chroot)
                user nobody
                group nogroup
            defaults
                log global
                mode tcp
                option tcplog
                timeout connect 1s
                timeout client 10s
                timeout server 10s
            listen l
                bind 127.0.0.1:\(port)
                server s 127.0.0.1:\(echo.port)

            """
        }
        try config(chroot: "/jail").write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let started = try await blocking {
            try Peers.run(try Products.path("proxy"), ["-f", dir.file("p.cfg"), "--root", dir.path], timeout: 20)
        }
        #expect(started.status == 0, "\(String(decoding: started.stderr, as: UTF8.self))")
        #expect(Peers.isListening(port: port), "listening when the command returns")
        let pidText = try String(contentsOfFile: dir.file("run/proxy.pid"), encoding: .utf8)
        let pid = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(pid, SIGTERM) }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/root") == dir.file("jail"))
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        let nogroup = try #require(getgrnam("nogroup")).pointee.gr_gid
        #expect(status.contains("\nUid:\t\(nobody)\t\(nobody)\t\(nobody)\t\(nobody)\n"), "\(status)")
        #expect(status.contains("\nGid:\t\(nogroup)\t\(nogroup)\t\(nogroup)\t\(nogroup)\n"), "\(status)")
        #expect(status.contains("\nGroups:\t\(nogroup) \n") || status.contains("\nGroups:\t\(nogroup)\n"), "\(status)")
        let reply = try await blocking { try Peers.exchange(port: port, Array("jailed".utf8), halfClose: true) }
        #expect(reply == Array("jailed".utf8))
        var logged = false
        while !logged, let datagram = await logs.next() {
            logged = String(decoding: datagram, as: UTF8.self).contains(" l l/s ")
        }
        #expect(logged, "the log lines still go out from the chroot")
        kill(pid, SIGTERM)
        #expect(Peers.waitUntil(seconds: 5) { kill(pid, 0) != 0 }, "SIGTERM stops the daemon")

        // A chroot that cannot be entered: the daemon's alert on the caller's terminal, exit status 1.
        try config(chroot: "/missing").write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let failed = try await blocking {
            try Peers.run(try Products.path("proxy"), ["-f", dir.file("p.cfg"), "--root", dir.path], timeout: 20)
        }
        #expect(failed.status == 1)
        #expect(
            String(decoding: failed.stderr, as: UTF8.self).contains("[ALERT] cannot chroot(\(dir.file("missing")))"))
        #expect(Peers.waitUntil(seconds: 5) { !Peers.isListening(port: port) })
        try await echo.close()
        try await logs.close()
    }
}

@Suite("Bad peers leave no descriptor behind", .serialized)
struct DescriptorTests {
    /// Runs `count` client sessions on every core; `body(n)` false or throwing counts as a failure.
    static func failures(running count: Int, _ body: @escaping @Sendable (Int) throws -> Bool) async throws -> Int {
        try await blocking {
            let failed = NIOLockedValueBox(0)
            DispatchQueue.concurrentPerform(iterations: count) { n in
                if !((try? body(n)) ?? false) { failed.withLockedValue { $0 += 1 } }
            }
            return failed.withLockedValue { $0 }
        }
    }

    /// The proxy is still running and its open descriptors come back to `baseline` (within 15 s).
    static func expectDescriptorsBack(_ proxy: RunningPeer, to baseline: Int) {
        #expect(
            Peers.waitUntil(seconds: 15) { openDescriptors(proxy.pid) <= baseline },
            "descriptors: \(openDescriptors(proxy.pid)) open, \(baseline) before")
        #expect(proxy.isRunning)
    }

    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// 10,000 sessions of every kind — normal, client reset, client gone before a byte, refused server, server
    /// reset, stalled server (timeout server), queued past timeout queue — and the proxy's open descriptors come
    /// back to what they were.
    @Test func tenThousandSessionsOfEveryKindLeaveTheDescriptorCountAsItWas() async throws {
        let dir = try TemporaryDirectory(prefix: "proxy-fds")
        let echo = try await EchoBackend()
        let resetting = try ResettingServer()
        defer { resetting.stop() }
        let stalled = try StalledServer()
        defer { stalled.stop() }
        let stalledPort = stalled.port
        let logs = try await LoopbackUDPReceiver()
        let ports = try (0..<5).map { _ in try Peers.freePort() }
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        try """
        global
            log 127.0.0.1:\(logs.port) local0 info
        defaults
            log global
            mode tcp
            option tcplog
            retries 1
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        listen ok
            bind 127.0.0.1:\(ports[0])
            server s 127.0.0.1:\(echo.port)
        listen refused
            bind 127.0.0.1:\(ports[1])
            server dead 127.0.0.1:\(dead)
        listen resetting
            bind 127.0.0.1:\(ports[2])
            server r 127.0.0.1:\(resetting.port)
        listen stalled
            bind 127.0.0.1:\(ports[3])
            timeout server 200ms
            server st 127.0.0.1:\(stalledPort)
        listen queued
            bind 127.0.0.1:\(ports[4])
            timeout queue 100ms
            timeout server 300ms
            server q 127.0.0.1:\(stalledPort) maxconn 1

        """.write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let proxy = try RunningPeer(try Products.path("proxy"), ["-f", dir.file("p.cfg")], logPath: dir.file("p.out"))
        defer { proxy.stop() }
        #expect(Peers.waitUntil(seconds: 10) { proxy.output.contains("listening on") })
        // One session first: whatever is opened once, lazily, belongs to the baseline.
        #expect(try Peers.exchange(port: ports[0], Array("warm".utf8), halfClose: true) == Array("warm".utf8))
        let baseline = Self.openDescriptors(proxy.pid)
        #expect(baseline > 0)

        let failures = try await Self.failures(running: 10_000) { n in
            switch n % 20 {
            case 0:
                try Peers.resetAfterSending(port: ports[0], Array("abort".utf8), pause: 0)
            case 1:
                close(try Peers.connectLoopback(port: ports[0], timeoutSeconds: 5))
            case 2:
                _ = try Peers.exchange(port: ports[1], Array("refused".utf8), halfClose: true)
            case 3:
                _ = try Peers.exchange(port: ports[2], Array("reset".utf8), halfClose: true)
            case 4 where n % 200 == 4:
                _ = try Peers.exchange(port: ports[3], Array("stall".utf8), halfClose: true)
            case 5 where n % 200 == 5:
                _ = try Peers.exchange(port: ports[4], Array("queue".utf8), halfClose: true)
            default:
                let request = Array("session \(n)".utf8)
                if try Peers.exchange(port: ports[0], request, halfClose: true) != request {
                    return false
                }
            }
            return true
        }
        #expect(failures == 0)
        Self.expectDescriptorsBack(proxy, to: baseline)
        try await echo.close()
        try await logs.close()
    }

    /// HTTP mode: 2,000 connections of every kind — answered, pipelined, bodies, garbage and random bytes, a head
    /// too large, clients that reset or leave mid-request, a server that drops the request, one that never
    /// answers, one that refuses, the stats page without credentials — and the proxy is still running with its
    /// descriptors back to what they were (`http-server-close`: no idle server connection is kept).
    @Test func twoThousandHTTPConnectionsOfEveryKindLeaveTheDescriptorCountAsItWas() async throws {
        let dir = try TemporaryDirectory(prefix: "proxy-fds-http")
        let origin = try await HTTPOrigin(name: "o")
        let logs = try await LoopbackUDPReceiver()
        let ports = try (0..<3).map { _ in try Peers.freePort() }
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        try """
        global
            log 127.0.0.1:\(logs.port) local0 info
        defaults
            log global
            mode http
            option httplog
            option http-server-close
            retries 1
            timeout connect 1s
            timeout client 2s
            timeout server 300ms
            timeout http-request 500ms
        listen web
            bind 127.0.0.1:\(ports[0])
            server o 127.0.0.1:\(origin.port)
        listen refused
            bind 127.0.0.1:\(ports[1])
            server dead 127.0.0.1:\(dead)
        listen admin
            bind 127.0.0.1:\(ports[2])
            stats uri /stats
            stats auth a:b

        """.write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let proxy = try RunningPeer(try Products.path("proxy"), ["-f", dir.file("p.cfg")], logPath: dir.file("p.out"))
        defer { proxy.stop() }
        #expect(Peers.waitUntil(seconds: 10) { proxy.output.contains("listening on") })
        let get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
        #expect(try Peers.exchange(port: ports[0], Array(get.utf8), halfClose: true).count > 0)
        let baseline = Self.openDescriptors(proxy.pid)

        let failures = try await Self.failures(running: 2_000) { n in
            var random = LogGenerator(seed: UInt64(n))
            switch n % 16 {
            case 0: try Peers.resetAfterSending(port: ports[0], Array("GET / HTTP/1.1\r\nHo".utf8), pause: 0)
            case 1: close(try Peers.connectLoopback(port: ports[0], timeoutSeconds: 5))
            case 2: _ = try Peers.exchange(port: ports[1], Array(get.utf8), halfClose: true)
            case 3:
                _ = try Peers.exchange(
                    port: ports[0], Array("GET /drop HTTP/1.1\r\n\r\n".utf8), halfClose: true)
            case 4 where n % 160 == 4:
                _ = try Peers.exchange(
                    port: ports[0], Array("GET /hang HTTP/1.1\r\n\r\n".utf8), halfClose: true)
            case 5:
                // Random bytes, sometimes after a valid request line.
                let noise = (0..<(random.next(300) + 1)).map { _ in UInt8(truncatingIfNeeded: random.next(256))
                }
                let prefix = n % 32 == 5 ? Array("GET / HTTP/1.1\r\n".utf8) : []
                _ = try Peers.exchange(port: ports[0], prefix + noise, halfClose: true)
            case 6:
                _ = try Peers.exchange(
                    port: ports[0],
                    Array("GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 20_000))\r\n\r\n".utf8))
            case 7:
                _ = try Peers.exchange(
                    port: ports[2], Array("GET /stats HTTP/1.1\r\n\r\n".utf8), halfClose: true)
            case 8:
                let body = String(repeating: "b", count: random.next(5000))
                let post = "POST /echo HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                let answer = try Peers.exchange(port: ports[0], Array((post + get).utf8), halfClose: true)
                if !String(decoding: answer, as: UTF8.self).contains("got \(body.utf8.count) bytes") {
                    return false
                }
            case 9:
                let chunked = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\n"
                _ = try Peers.exchange(port: ports[0], Array(chunked.utf8), halfClose: true)
            default:
                let answer = try Peers.exchange(port: ports[0], Array((get + get).utf8), halfClose: true)
                if String(decoding: answer, as: UTF8.self).components(separatedBy: "origin o").count != 3 {
                    return false
                }
            }
            return true
        }
        #expect(failures == 0)
        Self.expectDescriptorsBack(proxy, to: baseline)
        try await origin.close()
        try await logs.close()
    }
}
