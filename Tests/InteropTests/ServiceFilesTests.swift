import Foundation
import SyslogProtocol
import TestSupport
import Testing

/// conf/systemd and conf/logrotate.d as the real tools read them.
@Suite("Service files with systemd and logrotate", .serialized)
struct ServiceFilesTests {
    @Test(arguments: [("tollgate-syslog-sink", "syslog-sink"), ("tollgate-proxy", "proxy")])
    func theUnitsPassSystemdAnalyzeVerify(unitName: String, program: String) throws {
        let analyze = try Peers.find("systemd-analyze")
        let dir = try TemporaryDirectory(prefix: "unit-verify")
        let unit = try String(
            contentsOfFile: Products.packageRoot + "/conf/systemd/\(unitName).service", encoding: .utf8)
        // The unit names the installed binary; here the one just built stands in for it.
        let binary = try Products.path(program)
        let local = unit.replacingOccurrences(of: "/usr/local/bin/\(program)", with: binary)
        #expect(local != unit)
        try local.write(toFile: dir.file("\(unitName).service"), atomically: true, encoding: .utf8)
        let result = try Peers.run(analyze, ["verify", "--man=no", dir.file("\(unitName).service")])
        let said = String(decoding: result.stdout + result.stderr, as: UTF8.self)
        #expect(result.status == 0, "\(said)")
        #expect(!said.contains("\(unitName).service:"), "no warning about the unit: \(said)")
    }

    @Test func logrotateRotatesWhileMessagesFlowAndNoneIsLost() throws {
        let logrotate = try Peers.find("logrotate")
        let dir = try TemporaryDirectory(prefix: "logrotate")
        let log = dir.file("log/haproxy.log")
        let pid = dir.file("run/syslog-sink.pid")
        try FileManager.default.createDirectory(atPath: dir.file("run"), withIntermediateDirectories: true)
        try """
        $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="0")
        local0.* \(log)

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        // The snippet as shipped, pointed at this test's file and pid file.
        let snippet = try String(
            contentsOfFile: Products.packageRoot + "/conf/logrotate.d/tollgate", encoding: .utf8)
        let local = snippet.replacingOccurrences(of: "/var/log/haproxy.log", with: log)
            .replacingOccurrences(of: "/run/tollgate/syslog-sink.pid", with: pid)
        #expect(local != snippet)
        try local.write(toFile: dir.file("logrotate.conf"), atomically: true, encoding: .utf8)

        let (sink, port) = try startSink(["-n", "-f", dir.file("sink.conf"), "-i", pid], log: dir.file("sink.out"))
        defer { sink.stop() }
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        // 30,000 numbered lines at about 10,000/s; two forced rotations while they flow.
        let total = 30_000
        let sending = Thread {
            for n in 1...total {
                sender.send(Array("<134>Nov 26 08:00:00 lb haproxy[1]: line \(n)".utf8))
                if n % 100 == 0 { usleep(10_000) }
            }
        }
        sending.start()
        for round in 1...2 {
            Thread.sleep(forTimeInterval: 1)
            let result = try Peers.run(logrotate, ["-f", "-s", dir.file("state"), dir.file("logrotate.conf")])
            #expect(result.status == 0, "round \(round): \(String(decoding: result.stderr, as: UTF8.self))")
        }
        let all = { () -> [Substring] in
            let plain = [log, log + ".1"].compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            let gz = (try? Peers.run("/bin/zcat", [log + ".2.gz"]).stdout).map { String(decoding: $0, as: UTF8.self) }
            return (plain + [gz ?? ""]).flatMap { $0.split(separator: "\n") }
        }
        #expect(Peers.waitUntil(seconds: 20) { all().count >= total })
        sink.stop()
        let numbers = all().compactMap { Int($0.split(separator: " ").last ?? "") }
        #expect(numbers.count == total, "no line lost or doubled")
        #expect(Set(numbers) == Set(1...total))
        #expect(FileManager.default.fileExists(atPath: log + ".2.gz"), "the older file compressed (delaycompress)")
        let current = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!current.isEmpty, "the sink reopened the file after the second rotation")
    }

    @Test func makeInstallPutsEverythingUnderDestdirAndKeepsYourConfiguration() throws {
        let make = try Peers.find("make")
        let dir = try TemporaryDirectory(prefix: "make-install")
        // What the tests run is the debug build: install-files copies it (make install builds the release one).
        let sink = try Products.path("syslog-sink")
        let build = URL(fileURLWithPath: sink).deletingLastPathComponent().lastPathComponent
        let arguments = [
            "-s", "-C", Products.packageRoot, "install-files", "BUILD=\(build)",
            "DESTDIR=\(dir.path)", "PREFIX=/usr",
        ]
        let first = try Peers.run(make, arguments)
        #expect(first.status == 0, "\(String(decoding: first.stderr, as: UTF8.self))")
        for file in [
            "usr/bin/syslog-sink", "usr/bin/logquery", "usr/bin/proxy", "etc/tollgate/rsyslog.conf",
            "etc/tollgate/haproxy.cfg", "etc/logrotate.d/tollgate",
            "usr/lib/systemd/system/tollgate-syslog-sink.service",
            "usr/share/doc/tollgate/syslog-sink.md", "usr/share/doc/tollgate/examples/rsyslog.d/haproxy.conf",
            "usr/share/doc/tollgate/examples/scale-out/node-forward.conf",
        ] {
            #expect(FileManager.default.fileExists(atPath: dir.file(file)), "\(file)")
        }
        let version = try Peers.run(dir.file("usr/bin/syslog-sink"), ["--version"])
        #expect(version.status == 0)
        let unit = try String(
            contentsOfFile: dir.file("usr/lib/systemd/system/tollgate-syslog-sink.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/bin/syslog-sink -n -f /etc/tollgate/rsyslog.conf"))
        #expect(!unit.contains("/usr/local/"))
        // A configuration you changed stays as you left it when you install again, and after an uninstall.
        try "# mine\n".write(toFile: dir.file("etc/tollgate/rsyslog.conf"), atomically: true, encoding: .utf8)
        #expect(try Peers.run(make, arguments).status == 0)
        #expect(try String(contentsOfFile: dir.file("etc/tollgate/rsyslog.conf"), encoding: .utf8) == "# mine\n")
        let uninstall = try Peers.run(
            make, ["-s", "-C", Products.packageRoot, "uninstall", "DESTDIR=\(dir.path)", "PREFIX=/usr"])
        #expect(uninstall.status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.file("usr/bin/syslog-sink")))
        #expect(FileManager.default.fileExists(atPath: dir.file("etc/tollgate/rsyslog.conf")))
    }
}

@Suite("syslog-sink --journal", .serialized)
struct JournalEverythingTests {
    @Test func everyMessageReachesJournaldWhateverTheRulesDo() throws {
        let journalctl = try requireJournald()
        let dir = try TemporaryDirectory(prefix: "journal-everything")
        try """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="0")
        local0.* stop
        *.* \(dir.file("all.log"))

        """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (sink, port) = try startSink(["-n", "-f", dir.file("sink.conf"), "--journal"], log: dir.file("sink.out"))
        defer { sink.stop() }
        let token = "everything-\(getpid())-\(Int(Date().timeIntervalSince1970))"
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        sender.send(Array("<134>Nov 26 08:00:00 lb haproxy[7]: \(token) stopped by the rules".utf8))
        sender.send(Array("<13>Nov 26 08:00:01 lb app: \(token) written to a file".utf8))
        var lines: [String] = []
        _ = Peers.waitUntil(seconds: 10) {
            let run = try? Peers.run(journalctl, ["-o", "json", "--no-pager", "--since", "-10min"])
            lines = String(decoding: run?.stdout ?? Data(), as: UTF8.self).split(separator: "\n").map(String.init)
                .filter { $0.contains(token) }
            return lines.count >= 2
        }
        #expect(lines.count == 2, "\(lines)")
        let fields = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(Set(fields.compactMap { $0["SYSLOG_IDENTIFIER"] as? String }) == ["haproxy", "app"])
        #expect(fields.allSatisfy { ($0["REMOTE_PORT"] as? String).flatMap(Int.init).map { $0 > 0 } == true })
        #expect(fields.allSatisfy { $0["REMOTE_ADDR"] as? String == "127.0.0.1" })
    }
}

/// Starts the syslog-sink binary with `arguments` (its configuration has one UDP input on 127.0.0.1, port 0) and
/// returns it with the port it was given.
func startSink(_ arguments: [String], log: String) throws -> (RunningPeer, Int) {
    let sink = try RunningPeer(try Products.path("syslog-sink"), arguments, logPath: log)
    _ = Peers.waitUntil(seconds: 10) { sink.output.contains("listening on udp 127.0.0.1:") }
    guard
        let port = sink.output.split(separator: "listening on udp 127.0.0.1:").dropFirst().first.flatMap({
            Int($0.prefix { $0.isNumber })
        })
    else {
        sink.stop()
        throw PeerFailed(description: "syslog-sink did not start: \(sink.output)")
    }
    return (sink, port)
}
