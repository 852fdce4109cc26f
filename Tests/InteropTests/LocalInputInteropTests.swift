import Foundation
import SyslogProtocol
import TestSupport
import Testing

/// The local inputs beside rsyslogd 8.2302 with the same configuration: imklog (its LogPath a FIFO each, fed the
/// same kernel-shaped lines), imjournal (the real systemd-journald, entries written with systemd-cat and logger,
/// and a restart with the state file in between), immark.
@Suite("syslog-sink's local inputs against rsyslogd", .serialized)
struct LocalInputInteropTests {
    func content(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Opens `fifo` for writing once its reader has it open (rsyslogd opens its LogPath blocking).
    func openWriter(_ fifo: String) throws -> Int32 {
        var fd: Int32 = -1
        let opened = Peers.waitUntil(seconds: 15) {
            fd = open(fifo, O_WRONLY | O_NONBLOCK)
            return fd >= 0
        }
        try #require(opened, "nobody reads \(fifo)")
        return fd
    }

    /// A sender to the daemon on UDP `port`, once a probe has reached its file `probe`.
    func probed(_ port: Int, _ probe: String, _ output: @autoclosure () -> String) throws -> SyslogSender {
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        #expect(
            Peers.waitUntil(seconds: 15) {
                sender.send(Array("<13>Nov 26 08:00:00 probe: ready".utf8))
                return content(probe).contains("probe: ready")
            }, "\(output())")
        return sender
    }

    /// rsyslogd with `dir/rsyslog.conf` and syslog-sink with `dir/sink.conf` under `dir/sink`.
    func startBoth(_ dir: TemporaryDirectory) throws -> (rsyslog: RunningPeer, sink: RunningPeer) {
        (
            try RunningPeer(
                try Peers.find("rsyslogd"), ["-n", "-f", dir.file("rsyslog.conf"), "-i", dir.file("rsyslogd.pid")],
                logPath: dir.file("rsyslogd.out")),
            try RunningPeer(
                try Products.path("syslog-sink"), ["-n", "-f", dir.file("sink.conf"), "--root", dir.file("sink")],
                logPath: dir.file("sink.out"))
        )
    }

    @Test func kernelLinesThroughImklogAreFiledAsRsyslogdFilesThem() throws {
        let dir = try TemporaryDirectory(prefix: "imklog")
        let out = dir.file("logs")
        let rsFifo = dir.file("rs.kmsg")
        let sinkFifo = dir.file("sink") + dir.file("sink.kmsg")
        try FileManager.default.createDirectory(atPath: dir.file("sink") + dir.path, withIntermediateDirectories: true)
        #expect(mkfifo(rsFifo, 0o600) == 0 && mkfifo(sinkFifo, 0o600) == 0)
        let rsPort = try Peers.freePort(udp: true)
        let sinkPort = try Peers.freePort(udp: true)
        func config(_ fifo: String, _ port: Int) -> String {
            """
            module(load="imklog" LogPath="\(fifo)" PermitNonKernelFacility="on" ParseKernelTimestamp="on")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            template(name="k" type="string" string="%pri% %syslogtag% %programname% %hostname% %fromhost-ip% [%msg%]\\n")
            :syslogtag, isequal, "kernel:" \(out)/kern.log;k
            & stop
            *.* \(out)/all.log
            """
        }
        try config(rsFifo, rsPort).write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(dir.file("sink.kmsg"), sinkPort).write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (rsyslog, sink) = try startBoth(dir)
        defer {
            rsyslog.stop()
            sink.stop()
        }
        let writers = [try openWriter(rsFifo), try openWriter(sinkFifo)]
        defer { for fd in writers { close(fd) } }
        for (port, probe) in [(rsPort, "\(out)/all.log"), (sinkPort, dir.file("sink") + "\(out)/all.log")] {
            _ = try probed(port, probe, "\(rsyslog.output) \(sink.output)")
        }
        let lines = [
            "<6>[ 2036.995927] bash (28056): drop_caches: 1",
            "<4>[    0.000000] [Firmware Bug]: TSC doesn't count with P0 frequency!",
            "<13>[ 1754.279805] user notice prefix",
            "<6><30>systemd[1]: an old systemd line",
            "<3> <27>two PRIs with a space",
            "a line without PRI",
            "<0>[12.5] short stamp",
            "<6>[ not a stamp] text",
            "<7>last",
        ]
        let text = Array((lines.joined(separator: "\n") + "\n").utf8)
        for fd in writers { #expect(text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count) }
        for file in ["\(out)/kern.log", dir.file("sink") + "\(out)/kern.log"] {
            #expect(Peers.waitUntil(seconds: 15) { content(file).contains("[last]") }, "\(file)")
        }
        rsyslog.stop()
        sink.stop()
        let theirs = content("\(out)/kern.log")
        #expect(content(dir.file("sink") + "\(out)/kern.log") == theirs)
        #expect(theirs.split(separator: "\n").count == lines.count, "\(theirs)")
    }

    @Test func journalEntriesThroughImjournalAreFiledAsRsyslogdFilesThem() throws {
        _ = try requireJournald()
        let dir = try TemporaryDirectory(prefix: "imjournal")
        let out = dir.file("logs")
        let tag = "tollgate-jtest-\(getpid())-\(Int.random(in: 1000...9999))"
        try FileManager.default.createDirectory(atPath: dir.file("rswork"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: dir.file("sink") + dir.file("sinkwork"), withIntermediateDirectories: true)
        func config(work: String) -> String {
            """
            global(workDirectory="\(work)")
            template(name="props" type="string" string="PRI: %pri% %syslogtag% %programname% %hostname% %fromhost-ip% [%msg%]\\n")
            module(load="imjournal" StateFile="imjournal.state" IgnorePreviousMessages="on" PersistStateInterval="1")
            if $programname == "\(tag)" then {
                action(type="omfile" file="\(out)/journal.log" template="RSYSLOG_TraditionalFileFormat")
                action(type="omfile" file="\(out)/pri.log" template="props")
            }
            """
        }
        try config(work: dir.file("rswork")).write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(work: dir.file("sinkwork")).write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        func journal(_ arguments: [String], stdin: String) throws {
            let run = try Peers.run(try Peers.find(arguments[0]), Array(arguments.dropFirst()), stdin: Data(stdin.utf8))
            #expect(run.status == 0, "\(arguments): \(String(decoding: run.stderr, as: UTF8.self))")
        }
        let files = ["\(out)/journal.log", dir.file("sink") + "\(out)/journal.log"]
        func waitBoth(_ marker: String) {
            for file in files {
                #expect(Peers.waitUntil(seconds: 20) { content(file).contains(marker) }, "\(file): \(marker)")
            }
        }
        var (rsyslog, sink) = try startBoth(dir)
        // Both read from the journal's end (no state yet): a probe until both have it.
        var n = 0
        let ready = Peers.waitUntil(seconds: 20) {
            n += 1
            try? journal(["systemd-cat", "-t", tag, "-p", "info"], stdin: "probe \(n)\n")
            return files.allSatisfy { content($0).contains("probe") }
        }
        try #require(ready, "\(rsyslog.output) \(sink.output)")
        try journal(["systemd-cat", "-t", tag, "-p", "warning"], stdin: "one\ntwo with\ttab\n")
        try journal(
            ["logger", "--journald"],
            stdin: "MESSAGE=native fields\nPRIORITY=2\nSYSLOG_FACILITY=10\nSYSLOG_IDENTIFIER=\(tag)\nMYFIELD=x\n")
        try journal(
            ["logger", "--journald"], stdin: "MESSAGE=no facility no pid\nPRIORITY=6\nSYSLOG_IDENTIFIER=\(tag)\n")
        try journal(
            ["logger", "-u", "/run/systemd/journal/dev-log", "-t", tag, "-p", "local3.err", "--id=4242"],
            stdin: "through the syslog socket\n")
        waitBoth("through the syslog socket")
        rsyslog.stop()
        sink.stop()
        // Down: these must be read once the daemons are back (the state file holds the cursor), and nothing twice.
        try journal(["systemd-cat", "-t", tag, "-p", "notice"], stdin: "while both were down\n")
        (rsyslog, sink) = try startBoth(dir)
        defer {
            rsyslog.stop()
            sink.stop()
        }
        try journal(["systemd-cat", "-t", tag, "-p", "notice"], stdin: "after the restart\n")
        waitBoth("after the restart")
        rsyslog.stop()
        sink.stop()
        let theirs = content(files[0])
        // The probes may differ in number (each daemon needed its own); the rest is the same, line for line.
        func withoutProbes(_ text: String) -> [Substring] { text.split(separator: "\n").filter { !$0.contains(" probe ") } }
        #expect(withoutProbes(content(files[1])) == withoutProbes(theirs))
        #expect(theirs.components(separatedBy: "while both were down").count == 2, "\(theirs)")
        let theirPRI = content("\(out)/pri.log").split(separator: "\n").filter { $0.contains("PRI:") }
        let ourPRI = content(dir.file("sink") + "\(out)/pri.log").split(separator: "\n").filter { $0.contains("PRI:") }
        #expect(ourPRI.count >= 7 && ourPRI.suffix(7) == theirPRI.suffix(7), "\(ourPRI)")
        #expect(FileManager.default.fileExists(atPath: dir.file("sink") + dir.file("sinkwork") + "/imjournal.state"))
    }

    @Test func marksComeEveryIntervalAsRsyslogdsDo() throws {
        let dir = try TemporaryDirectory(prefix: "immark")
        let out = dir.file("logs")
        let config = """
            module(load="immark" interval="1" use.syslogCall="off")
            template(name="m" type="string" string="%pri% %syslogtag% [%msg%]\\n")
            *.* \(out)/marks.log;m
            """
        try config.write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (rsyslog, sink) = try startBoth(dir)
        defer {
            rsyslog.stop()
            sink.stop()
        }
        func marks(_ file: String) -> [String] {
            content(file).split(separator: "\n").filter { $0.contains("MARK") }.map(String.init)
        }
        for file in ["\(out)/marks.log", dir.file("sink") + "\(out)/marks.log"] {
            #expect(Peers.waitUntil(seconds: 10) { marks(file).count >= 2 }, "\(file)")
        }
        // The same message; the tag names the daemon that made it.
        #expect(marks("\(out)/marks.log").first == "46 rsyslogd: [-- MARK --]")
        #expect(marks(dir.file("sink") + "\(out)/marks.log").first == "46 syslog-sink: [-- MARK --]")
    }
}

extension LocalInputInteropTests {
    /// imfile beside rsyslogd: the same files (each daemon its own copy) followed through appends, a partial line
    /// completed later, multi-line messages, a glob, a rotation, and a restart with lines added while down.
    @Test func followedFilesAreFiledAsRsyslogdFilesThem() throws {
        let dir = try TemporaryDirectory(prefix: "imfile")
        let out = dir.file("logs")
        // The followed files: rsyslogd's under dir/rs, the sink's under its root.
        let rsApp = dir.file("rs/app")
        let sinkApp = dir.file("sink") + rsApp
        for folder in [rsApp, sinkApp, dir.file("rswork"), dir.file("sink") + dir.file("rswork")] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        let config = """
            global(workDirectory="\(dir.file("rswork"))")
            module(load="imfile")
            template(name="f" type="string" string="%syslogtag%|%programname%|%pri%|%hostname%|%fromhost%|[%msg%]\\n")
            input(type="imfile" File="\(rsApp)/app.log" Tag="app:" Facility="local3" Severity="info" PersistStateInterval="1")
            input(type="imfile" File="\(rsApp)/w*.log" Tag="wild" Severity="err" PersistStateInterval="1")
            input(type="imfile" File="\(rsApp)/java.log" Tag="java:" startmsg.regex="^[0-9]{4}-" readTimeout="1" PersistStateInterval="1")
            input(type="imfile" File="\(rsApp)/para.log" Tag="para:" readMode="1" PersistStateInterval="1")
            input(type="imfile" File="\(rsApp)/indent.log" Tag="indent:" readMode="2" PersistStateInterval="1")
            *.* \(out)/files.log;f
            """
        try config.write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        func append(_ name: String, _ text: String) throws {
            for folder in [rsApp, sinkApp] {
                let path = "\(folder)/\(name)"
                if !FileManager.default.fileExists(atPath: path) {
                    _ = FileManager.default.createFile(atPath: path, contents: nil)
                }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                handle.seekToEndOfFile()
                handle.write(Data(text.utf8))
                try handle.close()
            }
        }
        let files = ["\(out)/files.log", dir.file("sink") + "\(out)/files.log"]
        func waitBoth(_ marker: String) {
            for file in files {
                #expect(Peers.waitUntil(seconds: 20) { content(file).contains(marker) }, "\(file): \(marker)")
            }
        }
        try append("app.log", "there before the start\n\n  leading spaces\nwith\ttab and CR\r\n")
        var (rsyslog, sink) = try startBoth(dir)
        waitBoth("with\ttab and CR")
        try append("app.log", "partial ")
        try append("w1.log", "wild one\n")
        try append("java.log", "2026-12-06 first\n  at a.b(C.java:1)\n  at d.e(F.java:2)\n2026-12-06 second\n")
        try append("para.log", "para line 1\npara line 2\n\nnext para\n\n")
        try append("indent.log", "top 1\n  cont a\n\tcont b\ntop 2\n")
        Thread.sleep(forTimeInterval: 0.5)
        try append("app.log", "completed\n")
        try append("w2.log", "wild two\n")
        waitBoth("wild two")
        waitBoth("2026-12-06 second")  // the last java message goes after its read timeout
        // Rotation: renamed, and a new file under the name.
        for folder in [rsApp, sinkApp] {
            #expect(rename("\(folder)/app.log", "\(folder)/app.log.1") == 0)
        }
        try append("app.log", "after the rotation\n")
        waitBoth("after the rotation")
        rsyslog.stop()
        sink.stop()
        try append("app.log", "while both were down\n")
        (rsyslog, sink) = try startBoth(dir)
        defer {
            rsyslog.stop()
            sink.stop()
        }
        try append("app.log", "after the restart\n")
        waitBoth("after the restart")
        rsyslog.stop()
        sink.stop()
        let theirs = content(files[0])
        let ours = content(files[1])
        // Files are looked at in their own order by each daemon: compare each tag's lines in order.
        func byTag(_ text: String) -> [Substring: [Substring]] {
            Dictionary(grouping: text.split(separator: "\n"), by: { $0.prefix { $0 != "|" } })
        }
        #expect(byTag(ours) == byTag(theirs), "ours:\n\(ours)\ntheirs:\n\(theirs)")
        #expect(theirs.components(separatedBy: "while both were down").count == 2, "\(theirs)")
        #expect(theirs.contains("[partial completed]"))
    }
}

extension LocalInputInteropTests {
    /// Named pipes (Debian's old `|/dev/xconsole`) beside rsyslogd: a FIFO each, read by the test; the same bytes.
    @Test func namedPipesGetWhatRsyslogdWritesThem() throws {
        let dir = try TemporaryDirectory(prefix: "ompipe")
        let out = dir.file("logs")
        let rsFifo = dir.file("rs.fifo")
        let sinkFifo = dir.file("sink") + dir.file("rs.fifo")
        try FileManager.default.createDirectory(atPath: dir.file("sink") + dir.path, withIntermediateDirectories: true)
        #expect(mkfifo(rsFifo, 0o600) == 0 && mkfifo(sinkFifo, 0o600) == 0)
        let readers = [open(rsFifo, O_RDONLY | O_NONBLOCK), open(sinkFifo, O_RDONLY | O_NONBLOCK)]
        defer { for fd in readers { close(fd) } }
        let rsPort = try Peers.freePort(udp: true)
        let sinkPort = try Peers.freePort(udp: true)
        func config(_ port: Int) -> String {
            """
            $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            daemon.*;mail.*;news.err;*.=debug;*.=info |\(rsFifo)
            local1.* action(type="ompipe" pipe="\(rsFifo)" template="RSYSLOG_SyslogProtocol23Format")
            *.* \(out)/all.log
            """
        }
        try config(rsPort).write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(sinkPort).write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (rsyslog, sink) = try startBoth(dir)
        defer {
            rsyslog.stop()
            sink.stop()
        }
        let corpus = [
            "<30>Nov 26 08:51:08 h1 daemon1[1]: a daemon's line",
            "<22>Nov 26 08:51:08 h1 postfix[2]: mail info",
            "<13>Nov 26 08:51:08 h1 app: user notice, not piped",
            "<139>Nov 26 08:51:08 h1 app: local1 error, 5424 format",
            "<15>Nov 26 08:51:08 h1 app: debug",
            "<13>Nov 26 08:51:09 h1 app: the end",
        ]
        for (port, probe) in [(rsPort, "\(out)/all.log"), (sinkPort, dir.file("sink") + "\(out)/all.log")] {
            let sender = try probed(port, probe, "\(rsyslog.output) \(sink.output)")
            defer { sender.close() }
            for line in corpus { sender.send(Array(line.utf8)) }
            #expect(Peers.waitUntil(seconds: 15) { content(probe).contains("the end") })
        }
        func drain(_ fd: Int32) -> String {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                bytes += buffer[..<n]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        let theirs = drain(readers[0])
        let ours = drain(readers[1])
        #expect(theirs.split(separator: "\n").count == 4, "\(theirs)")
        // The 5424 format stamps the reception time for legacy messages: masked.
        let mask = try Regex(#"^<139>1 \S+"#).anchorsMatchLineEndings()
        #expect(ours.replacing(mask, with: "<139>1 T") == theirs.replacing(mask, with: "<139>1 T"), "ours:\n\(ours)\ntheirs:\n\(theirs)")
    }
}

extension LocalInputInteropTests {
    /// impstats beside rsyslogd's: every interval, one message per input or action, tagged `rsyslogd-pstats:` at
    /// syslog.info, in JSON here; and the legacy lines in `log.file` after a ctime stamp. The counters are each
    /// daemon's own (the names differ); the shape of the messages and files is rsyslog's.
    @Test func statisticsComeAsRsyslogdsImpstatsMessages() throws {
        let dir = try TemporaryDirectory(prefix: "impstats")
        let out = dir.file("logs")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("sink") + out, withIntermediateDirectories: true)
        let rsPort = try Peers.freePort(udp: true)
        let sinkPort = try Peers.freePort(udp: true)
        func config(_ port: Int) -> String {
            """
            module(load="impstats" interval="1" format="json" log.file="\(out)/stats-file.log" log.syslog="on")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            template(name="m" type="string" string="%pri% %syslogtag% %inputname% %msg%\\n")
            if $programname == "rsyslogd-pstats" then {
                action(type="omfile" file="\(out)/stats.log" template="m")
                stop
            }
            *.* \(out)/all.log
            """
        }
        try config(rsPort).write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(sinkPort).write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (rsyslog, sink) = try startBoth(dir)
        defer {
            rsyslog.stop()
            sink.stop()
        }
        for file in ["\(out)/stats.log", dir.file("sink") + "\(out)/stats.log"] {
            #expect(Peers.waitUntil(seconds: 10) { content(file).split(separator: "\n").count >= 4 }, "\(file)")
        }
        rsyslog.stop()
        sink.stop()
        for (who, base) in [("rsyslogd", out), ("syslog-sink", dir.file("sink") + out)] {
            let lines = content("\(base)/stats.log").split(separator: "\n")
            for line in lines.prefix(6) {
                #expect(line.hasPrefix("46 rsyslogd-pstats: impstats { \"name\": "), "\(who): \(line)")
                let json = line.split(separator: " ", maxSplits: 3).last.map { Data($0.utf8) } ?? Data()
                let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any]
                #expect(object?["name"] != nil && object?["origin"] != nil, "\(who): \(line)")
            }
            // log.file: "Sun Dec  6 13:59:14 2026: " then the line.
            let stamped = try Regex(#"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}: \{ "name": "#)
            let fileLines = content("\(base)/stats-file.log").split(separator: "\n")
            #expect(!fileLines.isEmpty, "\(who)")
            #expect(fileLines.allSatisfy { (try? stamped.prefixMatch(in: $0)) != nil }, "\(who): \(fileLines.prefix(3))")
        }
    }
}

extension LocalInputInteropTests {
    /// omprog beside rsyslogd's: a shell script that appends what it reads to a file (and one that confirms each
    /// message with OK, and the legacy `:omprog:` line with `$ActionOMProgBinary`); the same lines reach both.
    @Test func programsGetTheLinesRsyslogdGivesThem() throws {
        let dir = try TemporaryDirectory(prefix: "omprog")
        let out = dir.file("logs")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("sink") + out, withIntermediateDirectories: true)
        // $1: the file to append to.
        try "#!/bin/sh\nwhile IFS= read -r line; do printf '%s\\n' \"$line\" >> \"$1\"; done\n"
            .write(toFile: dir.file("append.sh"), atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho OK\nwhile IFS= read -r line; do printf '%s\\n' \"$line\" >> \"$1\"; echo OK; done\n"
            .write(toFile: dir.file("confirm.sh"), atomically: true, encoding: .utf8)
        chmod(dir.file("append.sh"), 0o755)
        // The legacy `$ActionOMProgBinary` is one word (rsyslogd leaves arguments out): one script for each side.
        for (name, base) in [("legacy-rsyslogd.sh", out), ("legacy-sink.sh", dir.file("sink") + out)] {
            try "#!/bin/sh\nwhile IFS= read -r line; do printf '%s\\n' \"$line\" >> \(base)/legacy.out; done\n"
                .write(toFile: dir.file(name), atomically: true, encoding: .utf8)
            chmod(dir.file(name), 0o755)
        }
        chmod(dir.file("confirm.sh"), 0o755)
        let rsPort = try Peers.freePort(udp: true)
        let sinkPort = try Peers.freePort(udp: true)
        func config(_ port: Int, _ base: String) -> String {
            """
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            module(load="omprog")
            template(name="line" type="string" string="%syslogtag%%msg%\\n")
            if $programname == "app" then {
                action(type="omprog" binary="\(dir.file("append.sh")) \(base)/plain.out" template="line")
                action(type="omprog" binary="\(dir.file("confirm.sh")) \(base)/confirmed.out" template="line"
                       confirmMessages="on" reportFailures="on")
            }
            $ActionOMProgBinary \(dir.file(base == out ? "legacy-rsyslogd.sh" : "legacy-sink.sh"))
            :programname, isequal, "app" :omprog:;line
            *.* \(out)/all.log
            """
        }
        try config(rsPort, out).write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(sinkPort, dir.file("sink") + out).write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (rsyslog, sink) = try startBoth(dir)
        defer {
            rsyslog.stop()
            sink.stop()
        }
        for (port, base) in [(rsPort, out), (sinkPort, dir.file("sink") + out)] {
            let sender = try probed(port, base + "/all.log", "\(rsyslog.output) \(sink.output)")
            defer { sender.close() }
            for n in 1...20 { sender.send(Array("<13>Nov 26 08:00:00 h app: line \(n) with 'quotes' and \\ backslash".utf8)) }
            for name in ["plain.out", "confirmed.out", "legacy.out"] {
                #expect(Peers.waitUntil(seconds: 15) { content("\(base)/\(name)").contains("line 20 ") }, "\(base)/\(name)")
            }
        }
        rsyslog.stop()
        sink.stop()
        for name in ["plain.out", "confirmed.out", "legacy.out"] {
            let theirs = content("\(out)/\(name)")
            #expect(theirs.split(separator: "\n").count == 20)
            #expect(content(dir.file("sink") + "\(out)/\(name)") == theirs, "\(name)")
        }
    }
}

extension LocalInputInteropTests {
    /// Failover beside rsyslogd's: the primary collector is down (a port nobody listens on), so the action after it
    /// with `action.execOnlyWhenPreviousIsSuspended` (and the legacy `$ActionExecOnlyWhenPreviousIsSuspended`)
    /// takes the messages; a third one, after an action that works, takes none.
    @Test func failoverActionsRunWhileThePreviousIsSuspended() throws {
        let dir = try TemporaryDirectory(prefix: "failover")
        let out = dir.file("logs")
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        let rsPort = try Peers.freePort(udp: true)
        let sinkPort = try Peers.freePort(udp: true)
        func config(_ port: Int) -> String {
            """
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            template(name="t" type="string" string="%msg%\\n")
            if $programname == "app" then {
                action(type="omfwd" target="127.0.0.1" port="\(dead)" protocol="tcp" template="t")
                action(type="omfile" file="\(out)/backup.log" template="t" action.execOnlyWhenPreviousIsSuspended="on")
                action(type="omfile" file="\(out)/after-ok.log" template="t" action.execOnlyWhenPreviousIsSuspended="on")
            }
            :programname, isequal, "legacy" @@127.0.0.1:\(dead);t
            $ActionExecOnlyWhenPreviousIsSuspended on
            & \(out)/legacy-backup.log;t
            $ActionExecOnlyWhenPreviousIsSuspended off
            *.* \(out)/all.log
            """
        }
        try config(rsPort).write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(sinkPort).write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let (rsyslog, sink) = try startBoth(dir)
        defer {
            rsyslog.stop()
            sink.stop()
        }
        var senders: [SyslogSender] = []
        for (port, base) in [(rsPort, out), (sinkPort, dir.file("sink") + out)] {
            let sender = try probed(port, base + "/all.log", "\(rsyslog.output) \(sink.output)")
            senders.append(sender)
            // A first message finds the collector down (the daemons notice it at their own pace).
            sender.send(Array("<13>Nov 26 08:00:00 h app: first".utf8))
            sender.send(Array("<13>Nov 26 08:00:00 h legacy: first".utf8))
        }
        Thread.sleep(forTimeInterval: 2)
        for sender in senders {
            for n in 2...5 {
                sender.send(Array("<13>Nov 26 08:00:00 h app: message \(n)".utf8))
                sender.send(Array("<13>Nov 26 08:00:00 h legacy: message \(n)".utf8))
            }
            sender.send(Array("<13>Nov 26 08:00:00 h app: the end".utf8))
            sender.close()
        }
        for base in [out, dir.file("sink") + out] {
            #expect(Peers.waitUntil(seconds: 10) { content(base + "/all.log").contains("the end") })
        }
        rsyslog.stop()
        sink.stop()
        for name in ["backup.log", "legacy-backup.log"] {
            func after(_ path: String) -> [Substring] {
                content(path).split(separator: "\n").filter { !$0.contains("first") }
            }
            let theirs = after("\(out)/\(name)")
            #expect(theirs.count >= 4, "\(name): \(theirs)")
            #expect(after(dir.file("sink") + "\(out)/\(name)") == theirs, "\(name)")
        }
        #expect(content("\(out)/after-ok.log").isEmpty && content(dir.file("sink") + "\(out)/after-ok.log").isEmpty)
    }
}
