import Foundation
import SyslogProtocol
import TestSupport
import Testing

/// The sink's life as a daemon, as rsyslogd's: into the background without -n (the parent exiting with the
/// child's verdict, the pid file written), privileges dropped once the inputs are bound, and lines a file cannot
/// take said at the stop.
@Suite("syslog-sink as a daemon", .serialized)
struct SinkProcessTests {
    func content(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    @Test func withoutDashNItGoesToTheBackgroundOnceStarted() throws {
        let dir = try TemporaryDirectory(prefix: "sink-daemon")
        let port = try Peers.freePort(udp: true)
        let tcp = try Peers.freePort()
        try """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="\(port)")
        module(load="imtcp")
        input(type="imtcp" address="127.0.0.1" port="\(tcp)")
        *.* \(dir.file("all.log"))

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let sink = try Products.path("syslog-sink")
        let started = try Peers.run(sink, ["-f", dir.file("sink.conf"), "-i", dir.file("sink.pid")], timeout: 20)
        #expect(started.status == 0, "\(String(decoding: started.stderr, as: UTF8.self))")
        let pid = try #require(Int32(content(dir.file("sink.pid")).trimmingCharacters(in: .whitespacesAndNewlines)))
        defer {
            kill(pid, SIGTERM)
            _ = Peers.waitUntil(seconds: 5) { kill(pid, 0) != 0 }
        }
        #expect(kill(pid, 0) == 0, "the background sink runs")
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        #expect(
            Peers.waitUntil(seconds: 10) {
                sender.send(Array("<13>Nov 26 08:00:00 h app: in the background".utf8))
                return content(dir.file("all.log")).contains("in the background")
            })
        // A sink that cannot start: the parent says so and exits 1 (the TCP port is taken by the first; UDP ports
        // can be shared, as rsyslogd's can).
        let second = try Peers.run(sink, ["-f", dir.file("sink.conf"), "-i", dir.file("second.pid")], timeout: 20)
        #expect(second.status == 1)
        #expect(
            String(decoding: second.stderr, as: UTF8.self).contains(
                "cannot start: imtcp 127.0.0.1:\(tcp) (\(dir.file("sink.conf")):4): Address already in use"),
            "\(String(decoding: second.stderr, as: UTF8.self))")
        kill(pid, SIGTERM)
        #expect(Peers.waitUntil(seconds: 5) { kill(pid, 0) != 0 })
        #expect(!FileManager.default.fileExists(atPath: dir.file("sink.pid")), "the pid file goes at the stop")
    }

    @Test func privilegesAreDroppedOnceTheInputsAreBound() throws {
        let dir = try TemporaryDirectory(prefix: "sink-privdrop")
        guard getuid() == 0 else { return }  // only root can drop (CI runs as root)
        chmod(dir.path, 0o755)
        try FileManager.default.createDirectory(atPath: dir.file("logs"), withIntermediateDirectories: true)
        chmod(dir.file("logs"), 0o777)
        let port = try Peers.freePort(udp: true)
        try """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="\(port)")
        $PrivDropToGroup nogroup
        $PrivDropToUser nobody
        *.* \(dir.file("logs/all.log"))

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let sink = try RunningPeer(
            try Products.path("syslog-sink"), ["-n", "-f", dir.file("sink.conf")], logPath: dir.file("sink.out"))
        defer { sink.stop() }
        #expect(Peers.waitUntil(seconds: 10) { sink.output.contains("now running as user") }, "\(sink.output)")
        let status = content("/proc/\(sink.pid)/status")
        let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(separator: "\t").dropFirst()
        #expect(uid?.allSatisfy { $0 == "65534" } == true, "\(status)")
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        #expect(
            Peers.waitUntil(seconds: 10) {
                sender.send(Array("<13>Nov 26 08:00:00 h app: written as nobody".utf8))
                return content(dir.file("logs/all.log")).contains("written as nobody")
            })
        var st = stat()
        #expect(stat(dir.file("logs/all.log"), &st) == 0 && st.st_uid == 65534, "the file is the dropped user's")
        // A user that does not exist is rsyslogd's error.
        try "$PrivDropToUser no-such-user-here\n*.* /tmp/x\n".write(
            toFile: dir.file("bad.conf"), atomically: true, encoding: .utf8)
        let check = try Peers.run(try Products.path("syslog-sink"), ["-N1", "-f", dir.file("bad.conf")])
        #expect(check.status == 1)
        #expect(String(decoding: check.stderr, as: UTF8.self).contains("ID for user 'no-such-user-here' could not be found"))
    }

    @Test func linesAFileCannotTakeAreSaidAtTheStop() throws {
        let dir = try TemporaryDirectory(prefix: "sink-lost")
        // A path under a regular file: no open can succeed, even as root.
        _ = FileManager.default.createFile(atPath: dir.file("not-a-folder"), contents: Data("x".utf8))
        try """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="0")
        local0.* \(dir.file("not-a-folder/haproxy.log"))
        *.* \(dir.file("all.log"))

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (sink, port) = try startSink(["-n", "-f", dir.file("sink.conf")], log: dir.file("sink.out"))
        defer { sink.stop() }
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        for n in 1...3 { sender.send(Array("<134>Nov 26 08:00:00 lb haproxy[1]: held \(n)".utf8)) }
        sender.send(Array("<13>Nov 26 08:00:00 h app: marker".utf8))
        #expect(Peers.waitUntil(seconds: 10) { content(dir.file("all.log")).contains("marker") })
        sink.stop()
        let said = sink.output
        #expect(said.contains("lines LOST in 1 file(s)"), "\(said)")
        #expect(said.contains("not-a-folder/haproxy.log: 3 lines"), "\(said)")
        #expect(said.contains("could not be written before the stop and are lost"), "\(said)")
        #expect(said.contains("lost-at-stop=3"), "\(said)")
    }
}

extension SinkProcessTests {
    /// `$outchannel` (and omfile's `rotation.sizeLimit`): at the limit the command runs and the file starts again;
    /// a command that makes no room leaves the file taking no more (counted). rsyslogd reads the same file.
    @Test func outchannelsRotateAtTheirSizeLimit() throws {
        let dir = try TemporaryDirectory(prefix: "outchannel")
        try "#!/bin/sh\nmv \"$1\" \"$1.1\"\n".write(toFile: dir.file("rotate.sh"), atomically: true, encoding: .utf8)
        chmod(dir.file("rotate.sh"), 0o755)
        try """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="0")
        $outchannel small,\(dir.file("small.log")),300,\(dir.file("rotate.sh")) \(dir.file("small.log"))
        $outchannel stuck,\(dir.file("stuck.log")),300,/bin/true
        local0.* :omfile:$small;RSYSLOG_TraditionalFileFormat
        local1.* :omfile:$stuck;RSYSLOG_TraditionalFileFormat
        local2.* action(type="omfile" file="\(dir.file("param.log"))" rotation.sizeLimit="300"
                        rotation.sizeLimitCommand="\(dir.file("rotate.sh")) \(dir.file("param.log"))")
        *.* \(dir.file("all.log"))

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let check = try Peers.run(try Peers.find("rsyslogd"), ["-N1", "-f", dir.file("sink.conf")])
        #expect(check.status == 0, "rsyslogd accepts it: \(String(decoding: check.stderr, as: UTF8.self))")
        let (sink, port) = try startSink(["-n", "-f", dir.file("sink.conf")], log: dir.file("sink.out"))
        defer { sink.stop() }
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        for n in 1...12 {
            for facility in [16, 17, 18] {
                sender.send(Array("<\(facility * 8 + 6)>Nov 26 08:00:00 h app: line \(n) padded to some length".utf8))
            }
            usleep(50_000)  // each in a write of its own
        }
        sender.send(Array("<13>Nov 26 08:00:00 h app: marker".utf8))
        #expect(Peers.waitUntil(seconds: 10) { content(dir.file("all.log")).contains("marker") })
        sink.stop()
        for name in ["small.log", "param.log"] {
            let rotated = content(dir.file(name + ".1"))
            let current = content(dir.file(name))
            #expect(!rotated.isEmpty, "\(name) was rotated")
            // Nothing lost: every line is in one of the two (a second rotation would overwrite .1).
            #expect(current.contains("line 12 "), "\(name): \(current)")
        }
        let stuck = content(dir.file("stuck.log"))
        #expect(!stuck.contains("line 12 ") && stuck.count < 400, "the stuck file takes no more: \(stuck.count) bytes")
        #expect(sink.output.contains("did not resolve the situation"), "\(sink.output)")
    }
}
