import Foundation
import LogCore
import SyslogProtocol
import SyslogSink
import TestSupport
import Testing

/// The same configuration and the same datagrams to Debian's rsyslogd and to syslog-sink: the files must be
/// identical.
@Suite("syslog-sink against real rsyslog", .serialized)
struct SinkVersusRsyslogTests {
    @Test func identicalFiles() async throws {
        let rsyslogd = try Peers.find("rsyslogd")
        let sinkBinary = try Products.path("syslog-sink")
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog")
        let out = dir.file("logs")
        let rsPort = try Peers.freePort(udp: true)
        let sinkPort = try Peers.freePort(udp: true)
        func config(port: Int) -> String {
            """
            $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
            $FileCreateMode 0640
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            local0.*    \(out)/haproxy.log
            & stop
            :programname, isequal, "sshd" \(out)/auth.log
            *.*;auth,authpriv.none  -\(out)/syslog
            *.=crit;kern.none  \(out)/crit.log

            """
        }
        try config(port: rsPort).write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(port: sinkPort).write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.file("work"), withIntermediateDirectories: true)
        let rsyslog = try RunningPeer(
            rsyslogd, ["-n", "-f", dir.file("rsyslog.conf"), "-i", dir.file("rsyslogd.pid")],
            logPath: dir.file("rsyslogd.out"))
        defer { rsyslog.stop() }
        let sink = try RunningPeer(
            sinkBinary, ["-n", "-f", dir.file("sink.conf"), "--root", dir.file("sink")], logPath: dir.file("sink.out"))
        defer { sink.stop() }

        let toRsyslog = try SyslogSender(target: .udp(host: "127.0.0.1", port: rsPort))
        let toSink = try SyslogSender(target: .udp(host: "127.0.0.1", port: sinkPort))
        // Both must be listening: a probe each until its syslog file shows it.
        for (sender, file) in [(toRsyslog, "\(out)/syslog"), (toSink, dir.file("sink") + "\(out)/syslog")] {
            let up = Peers.waitUntil(seconds: 15) {
                sender.send(Array("<13>Nov 26 08:00:00 probe: ready".utf8))
                return ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").contains("probe: ready")
            }
            try #require(up, "not listening: \(rsyslog.output) \(sink.output)")
        }
        let now = CivilTime.now()
        let haproxy = HAProxySyslogHeader(facility: .local0, pid: 6553)
        var corpus: [[UInt8]] = [
            haproxy.datagram(
                "127.0.0.1:5 [26/Nov/2026:08:51:08.248] fe be/s 0/0/1 5 -- 1/1/0/0/0 0/0", severity: .informational,
                time: now),
            haproxy.datagram(
                "Server be/s2 is DOWN. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
                severity: .alert, time: now),
            haproxy.datagram("backend be has no server available!", severity: .emergency, time: now),
        ]
        corpus += [
            "<38>Nov 26 08:51:09 host1 sshd[9]: Accepted publickey for root",
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            "<13>Nov 26 08:51:10 host1 app: tab\there and\u{1B}escape",
            "<13>Nov 26 08:51:10 host1 app: crlf\r",
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
            "<86>Nov 26 08:51:11 host1 sudo: authpriv stays out of syslog",
            "<2>Nov 26 08:51:12 host1 app: critical from user",
            "<0>Nov 26 08:51:13 host1 kernel: kern emerg, not in crit.log",
            "<167>Mar  7 2008 19:06:53: example tag: testmessage",
            "<14>Aug 30 23:00:05 X4711 AAAAAAAAAAAAAAAAA",
            "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
        ].map { Array($0.utf8) }
        for m in corpus {
            toRsyslog.send(m)
            toSink.send(m)
        }
        // Wait for the last one in both syslog files, then stop both (files flushed).
        let marker = "Use the BFG!"
        for file in ["\(out)/syslog", dir.file("sink") + "\(out)/syslog"] {
            let done = Peers.waitUntil(seconds: 15) {
                ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").contains(marker)
            }
            #expect(done, "\(file)")
        }
        rsyslog.stop()
        sink.stop()
        // The probes (as many as each needed before it listened) are left out of the comparison.
        func content(_ path: String) throws -> String {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.contains("probe: ready") }.joined(separator: "\n")
        }
        for name in ["haproxy.log", "auth.log", "syslog", "crit.log"] {
            let theirs = try content("\(out)/\(name)")
            let ours = try content(dir.file("sink") + "\(out)/\(name)")
            #expect(!theirs.isEmpty, "\(name)")
            #expect(ours == theirs, "\(name)")
            var a = stat()
            var b = stat()
            stat("\(out)/\(name)", &a)
            stat(dir.file("sink") + "\(out)/\(name)", &b)
            #expect(a.st_mode & 0o777 == b.st_mode & 0o777, "mode of \(name)")
        }
    }
}
