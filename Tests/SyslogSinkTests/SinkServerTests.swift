import Foundation
import LogCore
import SyslogProtocol
import TestSupport
import Testing

@testable import SyslogSink

@Suite("The sink over real sockets", .serialized)
struct SinkServerTests {
    func config(_ text: String) throws -> SinkConfiguration {
        try RsyslogConfigParser.parse(text: text, name: "test.conf")
    }

    @Test func udpAndTcpIntoFilesWithFirstMatchAndReopen() async throws {
        let dir = try TemporaryDirectory(prefix: "sink")
        let c = try config(
            """
            $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="0")
            module(load="imtcp")
            input(type="imtcp" address="127.0.0.1" port="0")
            local0.*    /var/log/haproxy.log
            & stop
            :programname, isequal, "sshd" /var/log/auth.log
            *.*;local0.none -/var/log/syslog
            """)
        let server = try SinkServer(configuration: c, root: dir.path)
        let bound = try await server.start()
        #expect(bound.map(\.transport) == ["udp", "tcp"])
        let udp = try SyslogSender(target: .udp(host: "127.0.0.1", port: bound[0].port))
        let tcp = try SyslogSender(target: .tcp(host: "127.0.0.1", port: bound[1].port))
        let now = CivilTime.now()
        let header = HAProxySyslogHeader(facility: .local0, pid: 77)
        let lines = (1...20).map { "127.0.0.1:\($0) [26/Nov/2026:08:51:08.248] fe be/s 0/0/1 5 -- 1/1/0/0/0 0/0" }
        for line in lines { udp.send(header.datagram(line, severity: .informational, time: now)) }
        udp.send(Array("<38>Nov 26 08:51:09 host1 sshd[9]: Accepted key".utf8))
        udp.send(Array("<13>Nov 26 08:51:10 host1 app: line with\u{1B}escape\nand a second".utf8))
        udp.send(Array("<999>bad pri".utf8))
        // TCP: once connected (the sender drops while connecting), one octet-counted message.
        let start = ContinuousClock.now
        while tcp.currentCounters.sent == 0 && ContinuousClock.now - start < .seconds(120) {
            tcp.send(Array("<14>Nov 26 08:51:11 host2 tcpapp: over tcp".utf8))
            try await Task.sleep(for: .milliseconds(50))
        }
        try await server.waitUntilProcessed(24)
        // Under load the TCP line may have gone out twice: the loop above sends again until the sender counts one
        // sent, and its count can come after the next try. Every line sent is processed, no more.
        try await Task.sleep(for: .milliseconds(300))
        let sent = 23 + tcp.currentCounters.sent
        #expect(try await server.counters().processed == sent)
        // logrotate: rename, HUP, next line in a new file.
        try FileManager.default.moveItem(
            atPath: dir.file("var/log/haproxy.log"), toPath: dir.file("var/log/haproxy.log.1"))
        try await server.reopen()
        udp.send(header.datagram("after rotation", severity: .informational, time: now))
        let second = ContinuousClock.now + .seconds(10)
        while try await server.counters().processed < sent + 1 && ContinuousClock.now < second {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await server.stop()
        udp.close()
        tcp.close()

        let stamp = SyslogTimestamp(now).rfc3164
        let rotated = try String(contentsOfFile: dir.file("var/log/haproxy.log.1"), encoding: .utf8)
        #expect(rotated == lines.map { "\(stamp) localhost haproxy[77]: \($0)\n" }.joined())
        #expect(
            try String(contentsOfFile: dir.file("var/log/haproxy.log"), encoding: .utf8)
                == "\(stamp) localhost haproxy[77]: after rotation\n")
        #expect(
            try String(contentsOfFile: dir.file("var/log/auth.log"), encoding: .utf8)
                == "Nov 26 08:51:09 host1 sshd[9]: Accepted key\n")
        let syslog = try String(contentsOfFile: dir.file("var/log/syslog"), encoding: .utf8).split(separator: "\n")
        #expect(syslog.contains("Nov 26 08:51:09 host1 sshd[9]: Accepted key"))
        #expect(
            syslog.contains("Nov 26 08:51:10 host1 app: line with#033escape#012and a second"),
            "a message cannot forge a second line")
        #expect(syslog.contains { $0.hasSuffix(" localhost  <999>bad pri") })
        #expect(syslog.contains { $0.hasPrefix("Nov 26 08:51:11 host2 tcpapp: over tcp") })
        #expect(!syslog.contains { $0.contains("haproxy[77]") }, "& stop keeps HAProxy out of the other files")
        var info = stat()
        stat(dir.file("var/log/haproxy.log"), &info)
        #expect(info.st_mode & 0o777 == 0o644)
        stat(dir.file("var"), &info)
        #expect(info.st_mode & 0o777 == 0o700, "rsyslog's default $DirCreateMode")
    }
}

@Suite("The sink forwards", .serialized)
struct SinkForwardTests {
    @Test func udpAndLineFramedTCP() async throws {
        let udpPeer = try await LoopbackUDPReceiver()
        let tcpPeer = try await LoopbackTCPReceiver()
        let c = try RsyslogConfigParser.parse(
            text: """
                module(load="imudp")
                input(type="imudp" address="127.0.0.1" port="0")
                local0.* @127.0.0.1:\(udpPeer.port)
                & @@127.0.0.1:\(tcpPeer.port)
                """)
        let server = try SinkServer(configuration: c)
        let bound = try await server.start()
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: bound[0].port))
        let message = "<134>Nov 26 08:51:08 lb1 haproxy[6553]: forwarded line"
        // The TCP forward connects in the background and drops what comes before (counted): keep sending until the
        // collector has a whole line. (One read, never cancelled midway: a cancelled AsyncStream ends for good.)
        let pump = Task {
            while !Task.isCancelled {
                sender.send(Array(message.utf8))
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let received = try await withTimeout(seconds: 10, "tcp forward") {
            await tcpPeer.read(count: message.utf8.count + 1)
        }
        pump.cancel()
        let expected = "<134>Nov 26 08:51:08 lb1 haproxy[6553]: forwarded line"
        let datagram = try await withTimeout(seconds: 5, "udp forward") { await udpPeer.next() }
        #expect(datagram.map { String(decoding: $0, as: UTF8.self) } == expected, "RSYSLOG_TraditionalForwardFormat")
        #expect(String(decoding: received, as: UTF8.self).hasPrefix(expected + "\n"), "@@ frames with LF")
        try await server.stop()
        sender.close()
        try await udpPeer.close()
        try await tcpPeer.close()
    }
}

@Suite("The sink's local socket", .serialized)
struct SinkUnixSocketTests {
    @Test func loggerToDevLogUnderRoot() async throws {
        let dir = try TemporaryDirectory(prefix: "devlog")
        let c = try RsyslogConfigParser.parse(
            text: """
                $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
                module(load="imuxsock")
                user.* /var/log/user.log
                """)
        #expect(c.inputs == [.unixSocket(path: "/dev/log")], "imuxsock listens on /dev/log as in Debian")
        let server = try SinkServer(configuration: c, root: dir.path)
        let bound = try await server.start()
        #expect(bound.map(\.description) == ["unix \(dir.path)/dev/log"])
        // util-linux logger, unbound, as syslog(3) clients are.
        let logger = try Peers.find("logger")
        let result = try Peers.run(
            logger, ["-u", dir.file("dev/log"), "-t", "myapp", "-p", "user.notice", "hello local"])
        #expect(result.status == 0, "\(String(decoding: result.stderr, as: UTF8.self))")
        try await server.waitUntilProcessed(1)
        try await server.stop()
        let line = try String(contentsOfFile: dir.file("var/log/user.log"), encoding: .utf8)
        let host = String(decoding: localHostName(preserveFQDN: false), as: UTF8.self)
        #expect(line.contains(" \(host) myapp"), "\(line)")
        #expect(line.hasSuffix(": hello local\n") || line.hasSuffix(" hello local\n"), "\(line)")
        let omitted = try RsyslogConfigParser.parse(text: "$ModLoad imuxsock\n$OmitLocalLogging on\n")
        #expect(omitted.inputs.isEmpty)
    }
}

@Suite("The sink's filters and access list", .serialized)
struct SinkFilterTests {
    @Test func regexFiltersAndAllowedSenders() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-filters")
        let c = try RsyslogConfigParser.parse(
            text: """
                $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
                module(load="imudp")
                input(type="imudp" address="127.0.0.1" port="0")
                :msg, ereregex, "err[0-9]{2}" /var/log/ere.log
                :msg, regex, "err[0-9]\\\\{2\\\\}" /var/log/bre.log
                :msg, regex, "err[0-9]\\{2\\}" /var/log/bre-single.log
                :hostname, !startswith, "web" /var/log/notweb.log
                """)
        let server = try SinkServer(configuration: c, root: dir.path)
        let bound = try await server.start()
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: bound[0].port))
        for m in ["<13>Nov 26 08:00:00 web1 app: err42 happened", "<13>Nov 26 08:00:00 db1 app: all fine"] {
            sender.send(Array(m.utf8))
        }
        try await server.waitUntilProcessed(2)
        let stats = try await server.statistics()
        try await server.stop()
        sender.close()
        func read(_ name: String) -> String {
            (try? String(contentsOfFile: dir.file("var/log/\(name)"), encoding: .utf8)) ?? ""
        }
        #expect(read("ere.log") == "Nov 26 08:00:00 web1 app: err42 happened\n")
        #expect(
            read("bre.log") == "Nov 26 08:00:00 web1 app: err42 happened\n", "the doubled backslashes rsyslog requires")
        #expect(read("bre-single.log") == "", "single backslashes silently never match in rsyslog")
        #expect(read("notweb.log") == "Nov 26 08:00:00 db1 app: all fine\n")
        #expect(stats.contains { $0.hasPrefix("imudp(127.0.0.1:0): received=2 truncated=0 disallowed=0") })

        let acl = try RsyslogConfigParser.parse(
            text: """
                $AllowedSender UDP, 10.0.0.0/8, [::1]/128, *.example.net
                module(load="imudp")
                input(type="imudp" address="127.0.0.1" port="0")
                *.* /var/log/all.log
                """)
        #expect(acl.allowedSenders["udp"]?.count == 3)
        let guarded = try SinkServer(configuration: acl, root: dir.path)
        let port = try await guarded.start()[0].port
        let outsider = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        outsider.send(Array("<13>from loopback, not allowed".utf8))
        var disallowed = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !disallowed && ContinuousClock.now < deadline {
            disallowed = try await guarded.statistics().contains { $0.contains("disallowed=1") }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(disallowed)
        try await guarded.stop()
        outsider.close()
        #expect(read("all.log") == "")
        #expect(throws: ConfigDiagnostic.self) { try RsyslogConfigParser.parse(text: "$AllowedSender UDP, 0.0.0.0/0") }
    }

    @Test func tcpSessionsBeyondMaxSessionsAreRefusedAndCounted() async throws {
        #expect(
            try RsyslogConfigParser.parse(text: "$ModLoad imtcp\n$InputTCPMaxSessions 7\n$InputTCPServerRun 10514")
                .inputs == [
                    .tcp(address: nil, port: 10514, maxSessions: 7)
                ])
        #expect(throws: ConfigDiagnostic.self) { try RsyslogConfigParser.parse(text: "$InputTCPMaxSessions none") }
        let dir = try TemporaryDirectory(prefix: "sink-sessions")
        let c = try RsyslogConfigParser.parse(
            text: """
                $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
                module(load="imtcp" maxSessions="2")
                input(type="imtcp" address="127.0.0.1" port="0")
                *.* /var/log/all.log
                """)
        let server = try SinkServer(configuration: c, root: dir.path)
        let port = try await server.start()[0].port
        func waitFor(_ what: String) async throws -> Bool {
            // Generous: in a full run this suite shares two cores with the interop suites' daemons.
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if try await server.statistics().contains(where: { $0.contains(what) }) { return true }
                try await Task.sleep(for: .milliseconds(20))
            }
            return false
        }
        // Plain connected sockets, as `logger --tcp` holds them: connected when connect(2) returns, with no
        // event loop of the test process in between (a sender on the shared loops waited behind other suites).
        let first = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
        let second = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
        func send(_ fd: Int32, _ line: String) {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        }
        #expect(try await waitFor("sessions=2 refused=0"))
        send(first, "<13>Nov 26 08:00:01 h app: one")
        #expect(try await waitFor("processed=1"))  // two connections: no order between them otherwise
        send(second, "<13>Nov 26 08:00:02 h app: two")
        #expect(try await waitFor("processed=2"))
        let third = try Peers.exchange(port: port, Array("<13>Nov 26 08:00:03 h app: three\n".utf8), halfClose: true)
        #expect(third.isEmpty)
        #expect(try await waitFor("sessions=2 refused=1"))
        Glibc.close(first)
        #expect(try await waitFor("sessions=1 refused=1"), "a closed session frees its place")
        _ = try Peers.exchange(port: port, Array("<13>Nov 26 08:00:04 h app: four\n".utf8), halfClose: true)
        #expect(try await waitFor("processed=3"))
        try await server.stop()
        Glibc.close(second)
        let written = (try? String(contentsOfFile: dir.file("var/log/all.log"), encoding: .utf8)) ?? ""
        #expect(
            written == """
                Nov 26 08:00:01 h app: one
                Nov 26 08:00:02 h app: two
                Nov 26 08:00:04 h app: four

                """)
    }
}

@Suite("The sink's own log and failing files", .serialized)
struct OwnLogTests {
    @Test func ownMessagesGoThroughItsRulesAndAFailingFileHoldsItsLines() throws {
        let dir = try TemporaryDirectory(prefix: "own-log")
        let root = dir.file("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        // A file where the action's directory should be: the open fails until it is removed.
        try "not a directory".write(toFile: root + "/blocked", atomically: true, encoding: .utf8)
        try """
        $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
        module(load="imuxsock")
        syslog.* /var/log/syslog
        user.* /blocked/app.log

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let sink = try RunningPeer(
            try Products.path("syslog-sink"), ["-n", "-f", dir.file("sink.conf"), "--root", root],
            logPath: dir.file("sink.out"))
        defer { sink.stop() }
        func syslog() -> String { (try? String(contentsOfFile: root + "/var/log/syslog", encoding: .utf8)) ?? "" }
        func waitFor(_ text: String, in read: () -> String) -> Bool {
            Peers.waitUntil(seconds: 15) { read().contains(text) }
        }
        #expect(waitFor("[origin software=\"syslog-sink\"", in: syslog), "\(sink.output)")
        #expect(syslog().contains("] start\n") && syslog().contains(" syslog-sink["))
        let logger = try Peers.find("logger")
        for n in 1...3 {
            _ = try Peers.run(logger, ["-u", root + "/dev/log", "-t", "app", "-p", "user.info", "held \(n)"])
        }
        #expect(waitFor("lines are held and retried every second", in: syslog), "\(syslog())")
        #expect(syslog().contains("cannot open \(root)/blocked/app.log: Not a directory"))
        try FileManager.default.removeItem(atPath: root + "/blocked")
        let app = { (try? String(contentsOfFile: root + "/blocked/app.log", encoding: .utf8)) ?? "" }
        #expect(waitFor("held 3", in: app))
        #expect(
            app().split(separator: "\n").map { $0.split(separator: " ").suffix(2).joined(separator: " ") } == [
                "held 1", "held 2", "held 3",
            ])
        #expect(waitFor("is written again after", in: syslog))
        #expect(syslog().contains("nothing was lost"))
        sink.send(signal: SIGHUP)
        #expect(waitFor("] syslog-sink was HUPed", in: syslog))
        sink.stop()
        #expect(syslog().contains("] exiting on signal 15.\n"), "\(syslog())")
    }

    @Test func aFullDiskIsCountedAndTheLinesKept() throws {
        let writer = FileWriter(path: "/dev/full", createMode: 0o644, dirCreateMode: 0o755)
        writer.append(Array("one line\n".utf8))
        writer.flush()
        #expect(writer.failed == 1 && writer.written == 0)
        #expect(writer.lastError == "write error on /dev/full: No space left on device")
        writer.append(Array("two\n".utf8))
        writer.flush()
        #expect(writer.failed == 1, "the next attempt waits a second: no system call per line")
        writer.reopen()
        #expect(writer.failed == 2, "a reopen (SIGHUP) tries again at once")
        #expect(writer.dropped == 0)
    }
}

@Suite("Malformed input is counted", .serialized)
struct MalformedInputTests {
    @Test func badOctetCountsAndMissingPRIsAreCountedAndKept() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-malformed")
        let c = try RsyslogConfigParser.parse(
            text: """
                $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
                module(load="imtcp")
                input(type="imtcp" address="127.0.0.1" port="0")
                *.* /var/log/all.log
                """)
        let server = try SinkServer(configuration: c, root: dir.path)
        let port = try await server.start()[0].port
        // A good octet-counted frame, an absurd count (read as a line, as rsyslog does after a framing error),
        // a line without PRI, one with a PRI out of range, and binary garbage with a NUL.
        let good = "<13>Nov 26 08:00:00 h app: fine"
        var stream = Array("\(good.utf8.count) \(good)".utf8)
        stream += Array("99999999999 <13>Nov 26 08:00:01 h app: after a bad count\n".utf8)
        stream += Array("no pri at all\n".utf8)
        stream += Array("<999>Nov 26 08:00:02 h app: bad pri\n".utf8)
        stream += [0x3C, 0x31, 0x33, 0x3E, 0x00, 0xFF, 0x07, 0x0A]
        _ = try Peers.exchange(port: port, stream, halfClose: true)
        try await server.waitUntilProcessed(5)
        let stats = try await server.statistics()
        try await server.stop()
        let line = try #require(stats.first { $0.hasPrefix("imtcp(127.0.0.1:0):") })
        // No PRI: the line after the bad count, "no pri at all"; out of range: <999>.
        #expect(line.contains(" received=5 ") && line.contains(" parse-fallbacks=3 "), "\(line)")
        #expect(line.hasSuffix(" framing-errors=1"), "\(line)")
        // 0xFF passes through as rsyslog passes 8-bit bytes: read the file as bytes.
        let text = String(
            decoding: try Data(contentsOf: URL(fileURLWithPath: dir.file("var/log/all.log"))), as: UTF8.self)
        #expect(text.contains("h app: fine\n") && text.contains("h app: after a bad count\n"))
        #expect(text.contains("#000"), "NUL escaped: a message never forges a line: \(text)")
        #expect(text.split(separator: "\n").count == 5)
    }
}

@Suite("The sink's counters for Prometheus", .serialized)
struct SinkMetricsTests {
    @Test func countersAreServedInPrometheusTextFormat() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-metrics")
        let c = try RsyslogConfigParser.parse(
            text: """
                module(load="imudp")
                module(load="imtcp")
                input(type="imudp" address="127.0.0.1" port="0")
                input(type="imtcp" address="127.0.0.1" port="0")
                local0.* /var/log/haproxy.log
                """)
        let server = try SinkServer(configuration: c, root: dir.path)
        let bound = try await server.start()
        let endpoint = try await server.serveMetrics(host: "127.0.0.1", port: 0)
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: bound[0].port))
        for n in 1...3 { sender.send(Array("<134>Nov 26 08:00:0\(n) lb haproxy[1]: line \(n)".utf8)) }
        try await server.waitUntilProcessed(3)
        func get(_ path: String, method: String = "GET") throws -> String {
            let request = "\(method) \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            return String(decoding: try Peers.exchange(port: endpoint.port, Array(request.utf8)), as: UTF8.self)
        }
        let response = try get("/metrics")
        try await server.stop()
        sender.close()
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response)")
        #expect(response.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        let body = response.split(separator: "\r\n\r\n", maxSplits: 1).last.map(String.init) ?? ""
        let lines = Set(body.split(separator: "\n").map(String.init))
        #expect(lines.contains("# TYPE tollgate_sink_input_received_total counter"), "\(body)")
        #expect(lines.contains("tollgate_sink_input_received_total{input=\"imudp(127.0.0.1:0)\"} 3"), "\(body)")
        #expect(lines.contains("tollgate_sink_input_received_total{input=\"imtcp(127.0.0.1:0)\"} 0"), "shown at 0")
        #expect(lines.contains("tollgate_sink_input_sessions{input=\"imtcp(127.0.0.1:0)\"} 0.0"), "a gauge")
        #expect(lines.contains("tollgate_sink_ruleset_processed_total 3"))
        let file = dir.path + "/var/log/haproxy.log"
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? -1
        #expect(lines.contains("tollgate_sink_omfile_written_bytes_total{file=\"\(file)\"} \(size)"), "\(body)")
        #expect(lines.contains("# TYPE tollgate_sink_omfile_failed_total counter"))
    }

    @Test func otherPathsAndMethodsAreRefused() async throws {
        let c = try RsyslogConfigParser.parse(text: "*.* /var/log/all.log\n")
        let dir = try TemporaryDirectory(prefix: "sink-metrics-404")
        let server = try SinkServer(configuration: c, root: dir.path)
        _ = try await server.start()
        let endpoint = try await server.serveMetrics(host: "127.0.0.1", port: 0, path: "/stats")
        func exchange(_ request: String) throws -> String {
            String(decoding: try Peers.exchange(port: endpoint.port, Array(request.utf8)), as: UTF8.self)
        }
        let notFound = try exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let post = try exchange("POST /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        // Two scrapes on one kept-alive connection, then close.
        let twice = try exchange(
            "GET /stats HTTP/1.1\r\nHost: x\r\n\r\nGET /stats?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try await server.stop()
        #expect(notFound.hasPrefix("HTTP/1.1 404 Not Found\r\n") && notFound.contains("the metrics are at /stats"))
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(twice.components(separatedBy: "HTTP/1.1 200 OK\r\n").count == 3, "\(twice)")
        #expect(twice.contains("tollgate_sink_ruleset_processed_total 0"))
    }
}

extension SinkServer {
    /// Waits (up to 10 s) until `count` messages have been run through the rules.
    func waitUntilProcessed(_ count: Int) async throws {
        // Generous: in a full run these suites share two cores with the interop suites' daemons (a test there has
        // taken 150 s).
        let deadline = ContinuousClock.now + .seconds(120)
        while try await counters().processed < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

@Suite("The sink over IPv6", .serialized)
struct SinkIPv6Tests {
    @Test func inputsWithoutAnAddressListenOnIPv4AndIPv6() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-ipv6")
        let c = try RsyslogConfigParser.parse(
            text: """
                module(load="imudp")
                module(load="imtcp")
                input(type="imudp" port="0")
                input(type="imtcp" port="0")
                input(type="imudp" address="::1" port="0")
                template(name="ip" type="string" string="%fromhost-ip% %msg%\\n")
                *.* action(type="omfile" file="/var/log/all.log" template="ip")
                """)
        let server = try SinkServer(configuration: c, root: dir.path)
        let bound = try await server.start()
        #expect(
            bound.map { $0.description.replacingPorts() } == [
                "udp 0.0.0.0:P", "udp [::]:P", "tcp 0.0.0.0:P", "tcp [::]:P", "udp [::1]:P",
            ], "\(bound)")
        #expect(bound[0].port == bound[1].port && bound[2].port == bound[3].port)
        let senders = [
            try SyslogSender(target: .udp(host: "127.0.0.1", port: bound[0].port)),
            try SyslogSender(target: .udp(host: "::1", port: bound[1].port)),
            try SyslogSender(target: .udp(host: "::1", port: bound[4].port)),
        ]
        for (n, sender) in zip([0, 1, 3], senders) { sender.send(Array("<13>Nov 26 08:00:00 h app: m\(n)".utf8)) }
        // TCP over IPv6 with a plain blocking socket: connected and written, or the test fails here (the
        // background-connecting SyslogSender could miss its chance on a loaded machine).
        try Self.sendTCPv6(
            port: bound[3].port,
            SyslogFrameEncoder.frame(Array("<13>Nov 26 08:00:00 h app: m2".utf8), framing: .octetCounting))
        let deadline = ContinuousClock.now + .seconds(30)
        while try await server.counters().processed < 4 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await server.stop()
        for sender in senders { sender.close() }
        let lines = try String(contentsOfFile: dir.file("var/log/all.log"), encoding: .utf8)
            .split(separator: "\n").map(String.init).sorted { $0.suffix(2) < $1.suffix(2) }
        #expect(lines == ["127.0.0.1  m0", "::1  m1", "::1  m2", "::1  m3"], "\(lines)")
    }

    static func sendTCPv6(port: Int, _ bytes: [UInt8]) throws {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PeerFailed(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port).bigEndian)
        address.sin6_addr = in6addr_loopback
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        guard connected == 0 else { throw PeerFailed(description: "connect to [::1]:\(port): errno \(errno)") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw PeerFailed(description: "write: errno \(errno)") }
    }
}

extension String {
    /// `udp 0.0.0.0:40213` → `udp 0.0.0.0:P`.
    fileprivate func replacingPorts() -> String {
        guard let colon = lastIndex(of: ":") else { return self }
        return self[...colon] + "P"
    }
}

@Suite("The sink under a service manager", .serialized)
struct ServiceNotificationTests {
    @Test func readyReloadingWatchdogAndStoppingReachTheNotifySocket() throws {
        let dir = try TemporaryDirectory(prefix: "sd-notify")
        let notify = try NotifySocket(path: dir.file("notify"))
        try """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="0")
        *.* /var/log/all.log

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let sink = try RunningPeer(
            try Products.path("syslog-sink"), ["-n", "-f", dir.file("sink.conf"), "--root", dir.file("root")],
            logPath: dir.file("sink.out"), environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        defer { sink.stop() }
        let ready = try #require(notify.next(), "\(sink.output)")
        #expect(ready.hasPrefix("READY=1\nSTATUS=listening on udp 127.0.0.1:"), "\(ready)")
        // Pings come at half the interval: wait for a few.
        #expect(notify.waitForPings(3))
        sink.send(signal: SIGHUP)
        #expect(notify.next() == "RELOADING=1")
        #expect(notify.next() == "READY=1\nSTATUS=files reopened")
        sink.send(signal: SIGTERM)
        #expect(notify.next() == "STOPPING=1")
    }

    @Test func theSystemSocketIsTheOneTheServiceManagerPasses() throws {
        let activate = try Peers.find("systemd-socket-activate")
        let dir = try TemporaryDirectory(prefix: "socket-activation")
        try """
        module(load="imuxsock" SysSock.Name="\(dir.file("syslog"))")
        *.* \(dir.file("all.log"))

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        // As syslog.socket: the manager binds the socket and passes it (it starts the sink on the first datagram).
        let sink = try RunningPeer(
            activate,
            [
                "-d", "-l", dir.file("syslog"), "--", try Products.path("syslog-sink"), "-n", "-f",
                dir.file("sink.conf"),
            ],
            logPath: dir.file("sink.out"))
        defer { sink.stop() }
        #expect(Peers.waitUntil(seconds: 10) { FileManager.default.fileExists(atPath: dir.file("syslog")) })
        var inode = stat()
        stat(dir.file("syslog"), &inode)
        // A syslog(3)-style datagram (not `logger`: a child started while this one runs would stay unreaped by
        // Foundation here).
        let local = try SyslogSender(target: .unixDatagram(path: dir.file("syslog")))
        local.send(Array("<13>Nov 26 08:00:00 app: through the passed socket".utf8))
        defer { local.close() }
        let all = { (try? String(contentsOfFile: dir.file("all.log"), encoding: .utf8)) ?? "" }
        #expect(Peers.waitUntil(seconds: 10) { all().contains(" app: through the passed socket") }, "\(sink.output)")
        #expect(sink.output.contains("syslog-sink: started, listening on unix \(dir.file("syslog"))"))
        sink.stop()
        var after = stat()
        #expect(
            stat(dir.file("syslog"), &after) == 0 && after.st_ino == inode.st_ino, "the manager's socket is left alone")
    }
}
