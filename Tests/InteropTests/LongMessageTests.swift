import Foundation
import TestSupport
import Testing

/// The senders people use send messages of every size around the limits (1 … 20,000 bytes), the same to rsyslogd
/// and to syslog-sink: util-linux `logger` and Python's SysLogHandler over UDP, TCP and a unix socket, HAProxy 2.6
/// itself with long URLs and captured headers, systemd-cat into the journal (imjournal). The files must be equal,
/// so no message is cut before rsyslogd's `maxMessageSize` (8096) and those beyond it are cut as rsyslogd cuts
/// them.
@Suite("Long messages through the real inputs, beside rsyslogd", .serialized)
struct LongMessageTests {
    static let sizes = [1, 255, 256, 257, 1024, 2048, 4095, 8096, 8097, 20000]

    /// A message of exactly `size` bytes whose start says which it is.
    static func message(_ size: Int, _ transport: String) -> String {
        let head = "\(transport)-\(size)-"
        guard size > head.count else { return String(head.prefix(size)) }
        let body = (0..<(size - head.count)).map { i in Character(UnicodeScalar(UInt8(0x61 + i % 26))) }
        return head + String(body)
    }

    @Test func everySizeOverEveryInputAsRsyslogdFilesIt() throws {
        let logger = try Peers.find("logger")
        // The file lines leave out the time: each daemon gets its own run of logger, whose stamps may differ.
        let ours = try besideRsyslogd(
            "long-messages", names: ["udp.log", "tcp.log", "unix.log"],
            config: LongMessageTests.threeInputs(body: "%hostname% %syslogtag%%msg%"),
            send: { udp, tcp, socket, files in
                for size in LongMessageTests.sizes {
                    for (transport, flags) in [
                        ("udp", ["-d", "-n", "127.0.0.1", "-P", "\(udp)", "-p", "local1.info"]),
                        ("tcp", ["-T", "-n", "127.0.0.1", "-P", "\(tcp)", "-p", "local2.info"]),
                        ("unix", ["-u", socket, "-p", "local3.info"]),
                    ] {
                        let run = try Peers.run(
                            logger,
                            flags + [
                                "--rfc3164", "--size", "30000", "-t", "long", LongMessageTests.message(size, transport),
                            ])
                        #expect(run.status == 0, "logger \(transport) \(size): \(String(decoding: run.stderr, as: UTF8.self))")
                        // Datagrams on one socket keep their order; a pause keeps the files' lines in send order.
                        usleep(2_000)
                    }
                }
                for name in ["udp.log", "tcp.log", "unix.log"] {
                    #expect(LongMessageTests.waitFor("-20000-", in: "\(files)/\(name)"), "\(files)/\(name)")
                }
            })
        // Every message up to 8096 bytes is there whole (8097 and 20000 are cut at rsyslogd's limit).
        for name in ["udp.log", "tcp.log", "unix.log"] {
            for size in LongMessageTests.sizes where size > 20 && size <= 8000 {
                let transport = String(name.prefix { $0 != "." })
                #expect(ours[name]?.contains(LongMessageTests.message(size, transport)) == true, "\(name): \(size) bytes whole")
            }
        }
    }
}

extension LongMessageTests {
    /// rsyslogd and the sink with the same configuration (`config(udp, tcp, socket)`, the sink's socket under its
    /// root), both listening; `send` runs the senders against each in turn; then the files of `names` must be
    /// equal. Returns the sink's copies.
    func besideRsyslogd(
        _ prefix: String, names: [String], config: (Int, Int, String, String) -> String,
        send: (_ udp: Int, _ tcp: Int, _ socket: String, _ files: String) throws -> Void
    ) throws -> [String: String] {
        let dir = try TemporaryDirectory(prefix: prefix)
        let out = dir.file("logs")
        let ports = (rs: (udp: try Peers.freePort(udp: true), tcp: try Peers.freePort()),
                     sink: (udp: try Peers.freePort(udp: true), tcp: try Peers.freePort()))
        try config(ports.rs.udp, ports.rs.tcp, dir.file("rsyslog.sock"), out)
            .write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(ports.sink.udp, ports.sink.tcp, "/long.sock", out)
            .write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let rsyslog = try RunningPeer(
            try Peers.find("rsyslogd"), ["-n", "-f", dir.file("rsyslog.conf"), "-i", dir.file("rsyslogd.pid")],
            logPath: dir.file("rsyslogd.out"))
        defer { rsyslog.stop() }
        let sink = try RunningPeer(
            try Products.path("syslog-sink"), ["-n", "-f", dir.file("sink.conf"), "--root", dir.file("sink")],
            logPath: dir.file("sink.out"))
        defer { sink.stop() }
        for (port, socket, files) in [
            (ports.rs, dir.file("rsyslog.sock"), out), (ports.sink, dir.file("sink/long.sock"), dir.file("sink") + out),
        ] {
            try #require(
                Peers.waitUntil(seconds: 15) { Peers.isListening(port: port.tcp) && access(socket, W_OK) == 0 },
                "not listening: \(rsyslog.output) \(sink.output)")
            try send(port.udp, port.tcp, socket, files)
        }
        rsyslog.stop()
        sink.stop()
        var ours: [String: String] = [:]
        for name in names {
            let theirs = (try? String(contentsOfFile: "\(out)/\(name)", encoding: .utf8)) ?? ""
            ours[name] = (try? String(contentsOfFile: dir.file("sink") + "\(out)/\(name)", encoding: .utf8)) ?? ""
            #expect(!theirs.isEmpty, "\(name): rsyslogd wrote nothing")
            #expect(ours[name] == theirs, "\(name): \(ours[name]?.count ?? 0) bytes against rsyslogd's \(theirs.count)")
        }
        return ours
    }

    /// UDP, TCP and a unix socket, local1/2/3 each to its file, lines rendered as `body`.
    static func threeInputs(body: String) -> (Int, Int, String, String) -> String {
        { udp, tcp, socket, out in
            """
            template(name="Body" type="string" string="\(body)\\n")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(udp)")
            module(load="imtcp")
            input(type="imtcp" address="127.0.0.1" port="\(tcp)")
            module(load="imuxsock" SysSock.Use="off")
            input(type="imuxsock" Socket="\(socket)")
            local1.* action(type="omfile" file="\(out)/udp.log" template="Body")
            local2.* action(type="omfile" file="\(out)/tcp.log" template="Body")
            local3.* action(type="omfile" file="\(out)/unix.log" template="Body")

            """
        }
    }

    static func waitFor(_ marker: String, in path: String) -> Bool {
        Peers.waitUntil(seconds: 15) { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains(marker) }
    }

    /// Python's `logging.handlers.SysLogHandler` over UDP, TCP (its frames end in a NUL, not an LF) and a unix
    /// socket, with messages of every size.
    @Test func pythonsSysLogHandlerAsRsyslogdFilesIt() throws {
        let python = try Peers.find("python3")
        let script = """
            import logging, logging.handlers, socket, sys
            udp, tcp, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
            sizes = [int(s) for s in sys.argv[4].split(",")]
            def body(kind, size):
                head = f"{kind}-{size}-"
                return (head + "".join(chr(97 + i % 26) for i in range(max(size - len(head), 0))))[:size]
            for kind, handler in [
                ("udp", logging.handlers.SysLogHandler(address=("127.0.0.1", udp), facility="local1")),
                ("tcp", logging.handlers.SysLogHandler(address=("127.0.0.1", tcp), facility="local2", socktype=socket.SOCK_STREAM)),
                ("unix", logging.handlers.SysLogHandler(address=path, facility="local3")),
            ]:
                log = logging.getLogger(kind)
                log.propagate = False
                log.addHandler(handler)
                log.setLevel(logging.INFO)
                handler.setFormatter(logging.Formatter("pyapp: %(message)s"))
                for size in sizes:
                    log.info(body(kind, size))
                log.warning(f"{kind}-done")
                handler.close()
            """
        let sizes = LongMessageTests.sizes.map(String.init).joined(separator: ",")
        let ours = try besideRsyslogd(
            "python-syslog", names: ["udp.log", "tcp.log", "unix.log"],
            config: LongMessageTests.threeInputs(body: "%pri% %syslogtag%%msg%"),
            send: { udp, tcp, socket, files in
                let run = try Peers.run(python, ["-c", script, "\(udp)", "\(tcp)", socket, sizes])
                #expect(run.status == 0, "\(String(decoding: run.stderr, as: UTF8.self))")
                for name in ["udp", "unix"] {
                    #expect(LongMessageTests.waitFor("\(name)-done", in: "\(files)/\(name).log"), "\(name)")
                }
                // TCP: NUL-ended frames; what the daemons make of them shows once the connection closed.
                Thread.sleep(forTimeInterval: 1)
            })
        for size in LongMessageTests.sizes where size > 20 && size <= 8000 {
            #expect(ours["udp.log"]?.contains(LongMessageTests.message(size, "udp")) == true, "udp \(size) whole")
            #expect(ours["unix.log"]?.contains(LongMessageTests.message(size, "unix")) == true, "unix \(size) whole")
        }
    }

    /// HAProxy 2.6 itself, `log … len 8192`, with a long URL and long captured headers: one haproxy logging to both
    /// daemons at once, so that both get the very same datagrams.
    @Test func haproxysLongLinesAsRsyslogdFilesThem() async throws {
        let haproxy = try Peers.find("haproxy")
        let origin = try await LoopbackHTTPResponder()
        let front = try Peers.freePort()
        var first: (port: Int, files: String)?
        _ = try besideRsyslogd(
            "haproxy-long", names: ["haproxy.log"],
            config: { udp, tcp, socket, out in
                """
                module(load="imudp")
                input(type="imudp" address="127.0.0.1" port="\(udp)")
                module(load="imtcp")
                input(type="imtcp" address="127.0.0.1" port="\(tcp)")
                module(load="imuxsock" SysSock.Use="off")
                input(type="imuxsock" Socket="\(socket)")
                template(name="Body" type="string" string="%pri% %syslogtag%%msg%\\n")
                local0.* action(type="omfile" file="\(out)/haproxy.log" template="Body")

                """
            },
            send: { udp, _, _, files in
                guard let (other, otherFiles) = first else {
                    first = (udp, files)  // rsyslogd is up; the requests go once the sink is too
                    return
                }
                let dir = try TemporaryDirectory(prefix: "haproxy-long-cfg")
                try """
                    global
                        # One thread: with two, two lines may reach the two daemons in different orders.
                        nbthread 1
                        log 127.0.0.1:\(other) len 8192 local0 info
                        log 127.0.0.1:\(udp) len 8192 local0 info
                    defaults
                        log global
                        mode http
                        option httplog
                        timeout connect 1s
                        timeout client 5s
                        timeout server 5s
                    frontend fe
                        bind 127.0.0.1:\(front)
                        capture request header User-Agent len 4000
                        capture request header Referer len 3000
                        default_backend be
                    backend be
                        server s1 127.0.0.1:\(origin.port)

                    """.write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
                let peer = try RunningPeer(haproxy, ["-db", "-f", dir.file("haproxy.cfg")], logPath: dir.file("haproxy.out"))
                defer { peer.stop() }
                #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: front) }, "\(peer.output)")
                for n in [100, 1000, 3000, 6000] {
                    let agent = String(repeating: "A", count: min(n, 3900)) + "-ua\(n)"
                    let referer = String(repeating: "r", count: min(n, 2900))
                    let path = "/" + String(repeating: "p", count: n) + "?n=\(n)"
                    let request =
                        "GET \(path) HTTP/1.1\r\nHost: x\r\nUser-Agent: \(agent)\r\nReferer: \(referer)\r\nConnection: close\r\n\r\n"
                    _ = try Peers.exchange(port: front, Array(request.utf8))
                }
                for file in ["\(otherFiles)/haproxy.log", "\(files)/haproxy.log"] {
                    #expect(LongMessageTests.waitFor("ua6000", in: file), "haproxy's lines arrive in \(file)")
                }
            })
    }

    /// systemd-cat writes long entries into the journal; imjournal reads them in both daemons.
    @Test func longJournalEntriesAsRsyslogdFilesThem() throws {
        _ = try requireJournald()
        let tag = "tollgate-jlong-\(getpid())-\(Int.random(in: 1000...9999))"
        let catPath = try Peers.find("systemd-cat")
        var sent = false
        let dirs = try TemporaryDirectory(prefix: "jlong-work")
        _ = try besideRsyslogd(
            "journal-long", names: ["journal.log"],
            config: { _, tcp, socket, out in
                let work = dirs.file("w\(tcp)")
                try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
                return """
                    global(workDirectory="\(work)")
                    module(load="imjournal" IgnorePreviousMessages="on")
                    module(load="imtcp")
                    input(type="imtcp" address="127.0.0.1" port="\(tcp)")
                    module(load="imuxsock" SysSock.Use="off")
                    input(type="imuxsock" Socket="\(socket)")
                    template(name="Body" type="string" string="%pri% %syslogtag%%msg%\\n")
                    if $programname == "\(tag)" then action(type="omfile" file="\(out)/journal.log" template="Body")

                    """
            },
            send: { _, _, _, files in
                // Both daemons read the same journal: the entries are written once, after both are up.
                guard !sent else {
                    #expect(LongMessageTests.waitFor("journal-done", in: "\(files)/journal.log"))
                    return
                }
                sent = true
                Thread.sleep(forTimeInterval: 1)
                let lines = LongMessageTests.sizes.map { LongMessageTests.message($0, "journal") } + ["journal-done"]
                let run = try Peers.run(
                    catPath, ["-t", tag, "-p", "info"], stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
                #expect(run.status == 0)
                #expect(LongMessageTests.waitFor("journal-done", in: "\(files)/journal.log"))
            })
    }
}
