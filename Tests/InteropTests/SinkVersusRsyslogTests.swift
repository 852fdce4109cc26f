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
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog")
        let out = dir.file("logs")
        func config(port: Int) -> String {
            """
            $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
            $FileOwner nobody
            $FileGroup adm
            $Umask 0022
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
        try feedBoth(dir: dir, config: config, probe: "\(out)/syslog", marker: "Use the BFG!", corpus: corpus)
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
            #expect(a.st_uid == b.st_uid && a.st_gid == b.st_gid, "owner and group of \(name)")
            if getuid() == 0 {
                #expect(a.st_gid == getgrnam("adm")?.pointee.gr_gid, "$FileGroup adm, as root")
            }
        }
    }

    /// A file without the probes (as many as each receiver needed before it listened).
    /// A file's lines without the readiness probes (sent until each daemon shows one, so their count differs), as
    /// written plainly or rendered by mmnormalize (`"originalmsg": " ready"`).
    func content(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("probe: ready") && !$0.contains("\"originalmsg\": \" ready\"") }
            .joined(separator: "\n")
    }

    @Test func identicalFilesThroughUserTemplatesAndDynaFiles() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-templates")
        let out = dir.file("logs")
        func config(port: Int) -> String {
            #"""
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\#(port)")
            $template Legacy,"L %HOSTNAME% [%syslogtag:1:3%] %msg:F,58:2% tab\there back\\slash pct\%x q\"x dec\101 %pri-text% %syslogfacility-text%.%syslogseverity-text% %pri% %syslogfacility% %syslogseverity% %syslogpriority-text% %programname:::uppercase% %timereported:::date-mysql% %timereported:::date-unixtimestamp% %timestamp:::date-rfc3164% %timereported:::date-rfc3339% %fromhost-ip% %fromhost% %app-name% %procid% %msgid% %structured-data% %protocol-version% %msg:2:5% %msg:::drop-last-lf,lowercase% %rawmsg:::escape-cc% %msg:F:1%\n"
            template(name="Str" type="string" string="S %source% %syslogtag%%msg:::sp-if-no-1st-sp%%msg% tab\there back\\slash q\"x nl\\n %syslogtag:::secpath-replace% %hostname:::secpath-drop% %timestamp:::date-year%-%timestamp:::date-month%-%timestamp:::date-day%T%timestamp:::date-hour%:%timestamp:::date-minute%:%timestamp:::date-second% %$year% %syslogtag:2:4:uppercase%\n")
            template(name="Dyn" type="string" string="\#(out)/dyn-%programname:::secpath-replace%.log")
            $template LegacyDyn,"\#(out)/ldyn-%syslogfacility-text%.log"
            *.* \#(out)/legacy.log;Legacy
            *.* action(type="omfile" file="\#(out)/str.log" template="Str")
            *.* ?Dyn;RSYSLOG_TraditionalFileFormat
            local0.* -?LegacyDyn;RSYSLOG_SyslogProtocol23Format
            template(name="List" type="list") {
                constant(value="LIST ")
                property(name="timereported" dateFormat="rfc3339")
                constant(value=" ")
                property(name="hostname" caseConversion="upper")
                constant(value=" [")
                property(name="syslogtag" position.from="1" position.to="4")
                constant(value="]")
                property(name="msg" spifno1stsp="on")
                property(name="msg" droplastlf="on" field.number="2" field.delimiter="58")
                constant(value=" ")
                property(name="programname" securePath="replace" outname="prog")
                constant(value=" ")
                property(name="rawmsg")
                constant(value="\\n")
            }
            *.* action(type="omfile" file="\#(out)/list.log" template="List")

            """#
        }
        let corpus = [
            "<134>Nov 26 08:51:08 lb1 haproxy[6553]: 10.0.0.1:5678 [26/Nov/2026:08:51:08.248] fe be/s 0/0/1 5 --",
            "<13>Nov 26 08:51:09 h/x ../evil/tag: MiXeD:Case 42 trailing",
            "<165>1 2026-11-26T08:51:10.123+01:00 host5 app 77 ID47 [ex@1 a=\"b\"] five424 msg",
            "<13>Nov 26 08:51:10 host1 ..: dots for a name",
            "<13>Nov 26 08:51:10 host1 app: tab\there and\u{1B}escape",
            "<14>Aug 30 23:00:05 X4711 AAAAAAAAAAAAAAAAA",
            "<38>Nov  2 08:51:09 host1 sshd[9]: Accepted publickey for root",
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
            "<142>Nov 26 08:51:11 lb1 haproxy[6554]: local1 line",
            "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
        ].map { Array($0.utf8) }
        try feedBoth(dir: dir, config: config, probe: "\(out)/legacy.log", marker: "BFG!", corpus: corpus)
        let names = try expectSameFiles(out, dir: dir)
        #expect(
            names.contains("dyn-haproxy.log") && names.contains("ldyn-local0.log") && names.contains("list.log")
                && names.count > 7, "\(names)")
    }

    /// rsyslogd's folder `out` and the sink's copy (under `dir/sink`) hold the same files with the same lines
    /// (probes aside); returns the names.
    @discardableResult
    func expectSameFiles(_ out: String, dir: TemporaryDirectory) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("sink") + out).sorted() == names)
        for name in names {
            // Bytes, not text: a file may hold what is not UTF-8 (before mmutf8fix). The probe's lines (sent until
            // a daemon is seen ready, so not as many times to each) are left out.
            func lines(_ path: String) throws -> Data {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                let kept = data.split(separator: 0x0A, omittingEmptySubsequences: false).filter { line in
                    !["probe: ready", "\"originalmsg\": \" ready\"", "\" ready\""].contains { line.firstRange(of: Data($0.utf8)) != nil }
                }
                return Data(kept.joined(separator: [0x0A]))
            }
            let theirs = try lines("\(out)/\(name)")
            let ours = try lines(dir.file("sink") + "\(out)/\(name)")
            #expect(
                ours == theirs,
                "\(name)\nours:   \(String(decoding: ours, as: UTF8.self))\ntheirs: \(String(decoding: theirs, as: UTF8.self))")
        }
        return names
    }

    @Test func journalEntriesBesideRsyslogsOmjournal() async throws {
        let journalctl = try requireJournald()
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-journal")
        let out = dir.file("logs")
        func config(port: Int) -> String {
            """
            $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            module(load="omjournal")
            local3.*;local4.* action(type="omjournal")
            *.* \(out)/all.log

            """
        }
        let token = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let api = "api\(token)"
        let errorLine =
            "10.0.0.2:5679 [26/Nov/2026:08:51:12.001] fe \(api)/s2 0/0/-1/-1/4 503 217 - - SCNN 1/1/0/0/0 0/0 "
            + "\"POST /\(token)/b HTTP/1.1\""
        let corpus = [
            "<155>Nov 26 08:51:08 lb1 haproxy[6553]: \(token) one, trailing spaces cut   ",
            "<165>1 2026-11-26T08:51:10.123+01:00 host5 app 77 ID47 - \(token) five424",
            "<158>Nov 26 08:51:09 h tag:\(token) nospace",
            "<166>Nov 26 08:51:09 h sshd[9]: \(token) tab\there",
            "<158>Nov 26 08:51:11 lb1 haproxy[6553]: 10.0.0.1:5678 [26/Nov/2026:08:51:11.248] fe \(api)/s1 "
                + "0/0/1/2/3 200 512 - - ---- 1/1/0/0/0 0/0 \"GET /\(token)/a HTTP/1.1\"",
            "<155>Nov 26 08:51:12 lb1 haproxy[6553]: " + errorLine,
            "<158>Nov 26 08:51:13 lb1 haproxy[6553]: 10.0.0.3:5680 [26/Nov/2026:08:51:13.001] fe other/s1 "
                + "0/0/1/2/3 200 1 - - ---- 1/1/0/0/0 0/0 \"GET /\(token)/c HTTP/1.1\"",
            "<13>Nov 26 08:51:09 h user: \(token) not for the journal, last",
        ].map { Array($0.utf8) }
        try feedBoth(dir: dir, config: config, probe: "\(out)/all.log", marker: "not for the journal", corpus: corpus)
        let names = [
            "MESSAGE", "PRIORITY", "SYSLOG_FACILITY", "SYSLOG_IDENTIFIER", "SYSLOG_PID", "SYSLOG_HOSTNAME",
            "SYSLOG_TIMESTAMP", "REMOTE_ADDR", "REMOTE_PORT", "HAPROXY_BACKEND", "HAPROXY_SERVER", "HAPROXY_STATUS",
            "HAPROXY_TERMINATION", "HAPROXY_METHOD", "HAPROXY_PATH", "HAPROXY_TT", "HAPROXY_CLIENT",
        ]
        // Entries carrying the token, as (sent by rsyslogd?, fields) from journalctl's JSON.
        func entries(_ filters: [String] = []) throws -> [(rsyslog: Bool, fields: [String: String])] {
            let run = try Peers.run(journalctl, ["-o", "json", "--no-pager", "--since", "-10min"] + filters)
            return String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").compactMap { line in
                guard line.contains(token),
                    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                else { return nil }
                var fields: [String: String] = [:]
                for name in names { if let v = object[name] { fields[name] = "\(v)" } }
                // The sender's ephemeral port: any port number will do.
                if let port = fields["REMOTE_PORT"], let n = Int(port), n > 0 { fields["REMOTE_PORT"] = "a port" }
                return ((object["_EXE"] as? String ?? "").hasSuffix("rsyslogd"), fields)
            }
        }
        var found: [(rsyslog: Bool, fields: [String: String])] = []
        _ = try Peers.waitUntil(seconds: 10) {
            found = try entries()
            return found.filter(\.rsyslog).count >= 7 && found.filter { !$0.rsyslog }.count >= 7
        }
        let theirs = found.filter(\.rsyslog).map(\.fields)
        let ours = found.filter { !$0.rsyslog }.map(\.fields)
        try #require(theirs.count == 7 && ours.count == 7, "\(found)")
        for (o, t) in zip(ours, theirs) {
            // Severity and facility as rsyslog sends them; MESSAGE without the leading space rsyslog keeps.
            #expect(o["PRIORITY"] == t["PRIORITY"] && o["SYSLOG_FACILITY"] == t["SYSLOG_FACILITY"])
            #expect(o["MESSAGE"].map { " " + $0 } == t["MESSAGE"] || o["MESSAGE"] == t["MESSAGE"], "\(o) \(t)")
        }
        #expect(theirs[0]["SYSLOG_IDENTIFIER"] == "haproxy[6553]:", "what rsyslog 8.2302 sends: -t haproxy misses it")
        #expect(
            ours[0] == [
                "MESSAGE": "\(token) one, trailing spaces cut", "PRIORITY": "3", "SYSLOG_FACILITY": "19",
                "SYSLOG_IDENTIFIER": "haproxy", "SYSLOG_PID": "6553", "SYSLOG_HOSTNAME": "lb1",
                "SYSLOG_TIMESTAMP": "Nov 26 08:51:08", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "a port",
            ])
        #expect(ours[1]["SYSLOG_IDENTIFIER"] == "app" && ours[1]["SYSLOG_PID"] == "77")
        #expect(ours[1]["SYSLOG_TIMESTAMP"] == "2026-11-26T08:51:10.123+01:00")
        #expect(ours[2]["SYSLOG_IDENTIFIER"] == "tag" && ours[2]["SYSLOG_PID"] == nil)
        #expect(ours[3]["MESSAGE"] == "\(token) tab#011here")
        // One backend's traffic, and its errors, the way an operator asks journalctl.
        let backend = try entries(["-t", "haproxy", "HAPROXY_BACKEND=\(api)"])
        #expect(backend.map { $0.fields["HAPROXY_PATH"] } == ["/\(token)/a", "/\(token)/b"])
        #expect(backend.allSatisfy { !$0.rsyslog })
        #expect(
            backend.last?.fields == [
                "MESSAGE": errorLine,
                "PRIORITY": "3", "SYSLOG_FACILITY": "19", "SYSLOG_IDENTIFIER": "haproxy", "SYSLOG_PID": "6553",
                "SYSLOG_HOSTNAME": "lb1", "SYSLOG_TIMESTAMP": "Nov 26 08:51:12", "REMOTE_ADDR": "127.0.0.1",
                "REMOTE_PORT": "a port", "HAPROXY_BACKEND": api, "HAPROXY_SERVER": "s2", "HAPROXY_STATUS": "503",
                "HAPROXY_TERMINATION": "SCNN",
                "HAPROXY_METHOD": "POST", "HAPROXY_PATH": "/\(token)/b", "HAPROXY_TT": "4",
                "HAPROXY_CLIENT": "10.0.0.2:5679",
            ])
        let errors = try entries(["-t", "haproxy", "-p", "err", "HAPROXY_BACKEND=\(api)"])
        #expect(errors.map { $0.fields["HAPROXY_STATUS"] } == ["503"])
    }

    @Test func omjournalWithAListTemplateSendsItsFieldsLikeRsyslog() async throws {
        let journalctl = try requireJournald()
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-journal-template")
        let out = dir.file("logs")
        let token = "jt-\(getpid())-\(Int(Date().timeIntervalSince1970))"
        func config(port: Int) -> String {
            """
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            module(load="omjournal")
            template(name="edge" type="list") {
                property(name="msg" outname="MESSAGE")
                property(name="hostname" outname="ORIGIN_HOST")
                property(name="syslogseverity" outname="PRIORITY")
                constant(value="edge-proxy" outname="SYSLOG_IDENTIFIER")
                constant(value=" not a field ")
                property(name="programname" outname="ORIGIN_PROGRAM" caseConversion="upper")
            }
            local3.* action(type="omjournal" template="edge")
            *.* \(out)/all.log

            """
        }
        let corpus = [
            "<155>Nov 26 08:51:08 lb1 haproxy[6553]: \(token) first",
            "<158>Nov 26 08:51:09 lb2 app: \(token) second, last",
        ].map { Array($0.utf8) }
        try feedBoth(dir: dir, config: config, probe: "\(out)/all.log", marker: "second, last", corpus: corpus)
        var entries: [(rsyslog: Bool, fields: [String: String])] = []
        _ = try Peers.waitUntil(seconds: 10) {
            let run = try Peers.run(
                journalctl, ["-o", "json", "--no-pager", "--since", "-10min", "SYSLOG_IDENTIFIER=edge-proxy"])
            entries = String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").compactMap { line in
                guard line.contains(token),
                    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                else { return nil }
                var fields: [String: String] = [:]
                // Not journald's own fields (_…), nor where in rsyslog's source the entry was sent (CODE_…).
                for (key, value) in object where !key.hasPrefix("_") && !key.hasPrefix("CODE_") {
                    fields[key] = "\(value)"
                }
                return ((object["_EXE"] as? String ?? "").hasSuffix("rsyslogd"), fields)
            }
            return entries.count >= 4
        }
        let theirs = entries.filter(\.rsyslog).map(\.fields)
        let ours = entries.filter { !$0.rsyslog }.map(\.fields)
        try #require(theirs.count == 2 && ours.count == 2, "\(entries)")
        #expect(ours == theirs)
        #expect(
            ours.first == [
                "MESSAGE": " \(token) first", "ORIGIN_HOST": "lb1", "PRIORITY": "3",
                "SYSLOG_IDENTIFIER": "edge-proxy", "ORIGIN_PROGRAM": "HAPROXY",
            ])
    }

    @Test func identicalFilesThroughRainerScriptIfThenElse() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-if")
        let out = dir.file("logs")
        func config(port: Int) -> String {
            """
            $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            if $programname == 'haproxy' then \(out)/haproxy.log
            & stop
            if $programname startswith 'ssh' and $syslogseverity <= 5 then {
                action(type="omfile" file="\(out)/auth.log")
                stop
            } else {
                action(type="omfile" file="\(out)/other.log")
            }
            if prifilt("local1.*") or re_match($msg, "err[0-9]+") then \(out)/special.log
            if not ($hostname contains 'web') and $syslogfacility-text != "local1" then \(out)/notweb.log
            if $syslogfacility-text == 'user' then {
                if $msg contains_i 'ALERT' then {
                    action(type="omfile" file="\(out)/alerts.log")
                }
                action(type="omfile" file="\(out)/user.log")
            }
            if $fromhost-ip == '127.0.0.1' and $pri > 100 then \(out)/high.log
            *.* \(out)/all.log

            """
        }
        let corpus = [
            "<134>Nov 26 08:51:08 lb1 haproxy[6553]: 10.0.0.1:5678 [26/Nov/2026:08:51:08.248] fe be/s 0/0/1 5 --",
            "<37>Nov 26 08:51:09 host1 sshd[9]: Accepted publickey for root",
            "<39>Nov 26 08:51:09 host1 sshd[9]: debug, so not auth.log",
            "<13>Nov 26 08:51:10 web1 app: err42 happened",
            "<13>Nov 26 08:51:10 db1 app: an Alert in mixed case",
            "<141>Nov 26 08:51:11 web2 cron[5]: local1 notice",
            "<165>1 2026-11-26T08:51:12.123+01:00 web3 app 77 - - five424 msg",
            "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
        ].map { Array($0.utf8) }
        try feedBoth(dir: dir, config: config, probe: "\(out)/all.log", marker: "BFG!", corpus: corpus)
        let names = try expectSameFiles(out, dir: dir)
        #expect(names.count == 9, "\(names)")
    }

    /// mmnormalize with a liblognorm rulebase file and with inline `rule=` lines (`useRawMsg`, `path`), its verdict in
    /// `$parsesuccess`, its fields and its `originalmsg`/`unparsed-data` in `$!` and `$!all-json`: the same files.
    /// (A later action's change to `$!` is kept out of the earlier files' templates: rsyslogd renders an omfile
    /// template when its batch ends, after the later actions ran, which the sink does not copy.)
    @Test func identicalFilesThroughMmnormalize() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-mmnormalize")
        let out = dir.file("logs")
        let rulebase = dir.file("sshd.rb")
        try """
        version=2
        rule=sshd,login: Accepted %auth:word% for %user:word% from %src:ipv4% port %port:number% %proto:word%
        rule=sshd,fail: Failed %auth:word% for %user:word% from %src:ipv4% port %port:number% %proto:word%

        """.write(toFile: rulebase, atomically: true, encoding: .utf8)
        func config(port: Int) -> String {
            """
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            module(load="mmnormalize")
            template(name="j1" type="string" string="%$!all-json% | %$!user%\\n")
            template(name="j2" type="string" string="%$.inline!word% [%$.inline!rest%] %$!all-json%\\n")
            action(type="mmnormalize" ruleBase="\(rulebase)")
            if $parsesuccess == "OK" then {
                action(type="omfile" file="\(out)/parsed.log" template="j1")
            } else {
                action(type="omfile" file="\(out)/unparsed.log" template="j1")
            }
            action(type="mmnormalize" rule=["rule=:%word:word% %rest:rest%"] path="$.inline" useRawMsg="on")
            *.* action(type="omfile" file="\(out)/all.log" template="j2")

            """
        }
        let corpus = [
            "<38>Dec  6 10:00:00 host sshd[12]: Accepted publickey for bob from 10.0.0.5 port 52311 ssh2",
            "<38>Dec  6 10:00:01 host sshd[12]: Failed password for root from 10.0.0.9 port 4000 ssh2",
            "<38>Dec  6 10:00:02 host sshd[12]: Connection closed by 10.0.0.9 \"quoted\" end",
            "<13>Dec  6 10:00:03 host app: the BFG!",
        ].map { Array($0.utf8) }
        try feedBoth(dir: dir, config: config, probe: "\(out)/all.log", marker: "BFG!", corpus: corpus)
        let names = try expectSameFiles(out, dir: dir)
        #expect(names == ["all.log", "parsed.log", "unparsed.log"], "\(names)")
        #expect(try content(dir.file("sink") + "\(out)/parsed.log").contains("\"user\": \"bob\""))
    }

    /// mmutf8fix (both modes, a replacement character), `exec_template()`, and a property's field name after its
    /// options (`%msg:::jsonf:text%`), beside rsyslogd: the same bytes in the same files, invalid UTF-8 sent
    /// through the real UDP input.
    @Test func identicalFilesThroughUTF8FixAndExecTemplate() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-utf8fix")
        let out = dir.file("logs")
        func config(port: Int) -> String {
            """
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            module(load="mmutf8fix")
            template(name="line" type="string" string="%msg%|%rawmsg%\\n")
            template(name="route" type="string" string="%programname%-%syslogseverity-text%")
            template(name="ignored" type="string" string="{%msg:::jsonf:text%,%programname:::jsonf%,%msg:::Lowercase,no-such-option%}\\n")
            template(name="routed" type="string" string="\(out)/%$.route%.log")
            set $.route = exec_template("route");
            action(type="omfile" file="\(out)/before.log" template="line")
            if $programname == "cc" then {
                action(type="mmutf8fix" mode="controlcharacters" replacementChar="?")
            } else {
                action(type="mmutf8fix")
            }
            action(type="omfile" file="\(out)/after.log" template="line")
            action(type="omfile" dynaFile="routed" template="line")
            action(type="omfile" file="\(out)/ignored.log" template="ignored")

            """
        }
        var corpus: [[UInt8]] = []
        corpus.append(Array("<13>Dec  6 10:00:00 host app: plain ascii".utf8))
        corpus.append(Array("<13>Dec  6 10:00:01 host app: caf".utf8) + [0xC3, 0xA9] + Array(" and bad ".utf8) + [0xC3, 0x28, 0x80, 0xFF])
        corpus.append(Array("<13>Dec  6 10:00:02 host app: overlong ".utf8) + [0xC0, 0xAF, 0xE0, 0x80, 0xAF] + Array(" surrogate ".utf8) + [0xED, 0xA0, 0x80] + Array(" cut ".utf8) + [0xF0, 0x9F, 0x98])
        corpus.append(Array("<13>Dec  6 10:00:03 host cc: tab\there ".utf8) + [0x1B, 0xC3, 0xA9, 0x7F])
        corpus.append(Array("<11>Dec  6 10:00:04 host app: the BFG!".utf8))
        try feedBoth(dir: dir, config: config, probe: "\(out)/after.log", marker: "BFG!", corpus: corpus)
        let names = try expectSameFiles(out, dir: dir)
        #expect(
            names == ["after.log", "app-err.log", "app-notice.log", "before.log", "cc-notice.log", "ignored.log", "probe-notice.log"],
            "\(names)")
        let after = try content(dir.file("sink") + "\(out)/after.log")
        #expect(after.contains("and bad  (  |") && after.contains("tab#011here #033???|"), "\(after)")
    }

    /// The syntax real files use, beside rsyslogd: selectors continued with `\` (Debian's old stock file),
    /// `include(file=…)` and `include(text=…)`, `/* */` comments, `if<TAB>(`, `} else if` chains, arrays and
    /// functions in conditions, a bare `stop` in a ruleset, `%msg:2:$%`, a list template with `{`/`}` in its
    /// constants, backtick values, the omfile module's default template.
    @Test func identicalFilesThroughRealWorldSyntax() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-syntax")
        let out = dir.file("logs")
        try "if $programname == 'included' then \(out)/included.log\n"
            .write(toFile: dir.file("included.conf"), atomically: true, encoding: .utf8)
        func config(port: Int) -> String {
            """
            module(load="builtin:omfile" template="RSYSLOG_TraditionalFileFormat")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            /* a comment
               over lines */
            include(file="\(dir.file("included.conf"))" mode="required")
            include(file="\(dir.file("nothing-*.conf"))")
            include(text="if $programname == 'fromtext' then \(out)/fromtext.log")
            template(name="Json" type="list") {
                constant(value="{\\"tag\\":\\"")  property(name="programname")
                constant(value="\\",\\"msg\\":\\"")  property(name="msg" position.from="2")
                constant(value="\\"}\\n")
            }
            template(name="Tail" type="string" string="%msg:2:$%|\\n")
            template(name="Home" type="list") { constant(value=`echo $HOME`) constant(value="\\n") }
            template(name="Regex" type="string" string="[%msg:R,ERE,1,DFLT:code=([0-9]+)--end%] [%msg:R,ERE,0,BLANK:x(y)z--end%] [%msg:R,ERE,2,ZERO:(a)(b)?--end%] [%msg:R,ERE,1,FIELD,1:([a-z]+)--end:uppercase%] [%msg:R:[0-9][0-9]*--end%] [%msg:5:2%]\\n")
            template(name="ListRegex" type="list") {
                property(name="msg" regex.expression="([a-z]+)=([0-9]+)" regex.type="ERE" regex.submatch="2" regex.match="1" regex.nomatchmode="BLANK")
                constant(value="|")
                property(name="hostname" regex.expression="^(db|web)" regex.type="ERE" regex.submatch="1" regex.nomatchmode="FIELD")
                constant(value="\\n")
            }
            *.=debug;\\
            \tauth,authpriv.none;\\
            \tmail.none\t\t\(out)/debug.log
            if\t($programname == ["web", "api"]) then {
                action(type="omfile" file="\(out)/web.log" template="Json")
            } else if $programname startswith "php" then {
                action(type="omfile" file="\(out)/php.log" template="Tail")
            } else if re_match($msg, "code=[0-9]+") == 1 and cnum(re_extract($msg, "code=([0-9]+)", 0, 1, "0")) >= 500 then {
                action(type="omfile" file="\(out)/5xx.log")
            } else {
                action(type="omfile" file="\(out)/rest.log")
            }
            if tolower($programname) == "mixed" and field($msg, 32, 4) == "c" then \(out)/fields.log
            if replace($msg, "secret", "xxx") contains "xxx" or strlen($msg) > 60 then \(out)/replaced.log
            if substring($hostname, 0, 3) & "-" == "web-" then \(out)/byhost.log
            if $programname == 'home' then \(out)/home.log;Home
            ruleset(name="tail") {
                action(type="omfile" file="\(out)/ruleset.log")
                stop
            }
            if $programname == 'torule' then call tail
            :programname, startswith, "nest" {
                if $syslogseverity <= 3 then \(out)/nest-err.log
                if $syslogseverity > 3 then \(out)/nest-info.log
                stop
            }
            # (the readiness probes, as many as each daemon needed, stay out of these)
            :programname, !isequal, "probe" \(out)/regex.log;Regex
            & \(out)/listregex.log;ListRegex
            *.* \(out)/all.log

            """
        }
        let corpus = [
            "<15>Nov 26 08:51:08 h1 app: a debug line",
            "<39>Nov 26 08:51:08 h1 app: auth debug, not in debug.log",
            "<13>Nov 26 08:51:09 web1 web[9]: GET / 200",
            "<13>Nov 26 08:51:09 web1 api: POST /x",
            "<13>Nov 26 08:51:09 web1 php-fpm[3]: pool www started",
            "<13>Nov 26 08:51:10 db1 app: code=503 upstream",
            "<13>Nov 26 08:51:10 db1 app: first=1 second=22 third=333",
            "<11>Nov 26 08:51:10 db1 nestapp: an error inside the block",
            "<14>Nov 26 08:51:10 db1 nestapp: info inside the block",
            "<13>Nov 26 08:51:10 db1 app: code=404 missing",
            "<13>Nov 26 08:51:10 db1 MIXED: a b c d",
            "<13>Nov 26 08:51:10 db1 app: the secret is out",
            "<13>Nov 26 08:51:11 db1 included: through include(file)",
            "<13>Nov 26 08:51:11 db1 fromtext: through include(text)",
            "<13>Nov 26 08:51:11 db1 home: backticks",
            "<13>Nov 26 08:51:11 db1 torule: into the ruleset",
            "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
        ].map { Array($0.utf8) }
        try feedBoth(dir: dir, config: config, probe: "\(out)/all.log", marker: "BFG!", corpus: corpus)
        let names = try expectSameFiles(out, dir: dir)
        #expect(
            Set(names).isSuperset(of: [
                "debug.log", "web.log", "php.log", "5xx.log", "rest.log", "fields.log", "replaced.log", "included.log",
                "fromtext.log", "home.log", "ruleset.log", "all.log", "regex.log", "listregex.log", "nest-err.log",
                "nest-info.log",
            ]), "\(names)")
    }

    /// Message variables beside rsyslogd: mmjsonparse (`@cee:` and its failures), `set`/`reset`/`unset` with
    /// arithmetic, `exists()`, an `if` whose branch changes what it tested, and the templates that show them:
    /// `%$!…%`, `%$.…%`, `%jsonmesg%`, `format="json|jsonf|jsonr|csv"`, `:::json`, `option.json`, `option.jsonf`,
    /// `date.inUTC`, `inputname` with an input's `name=`.
    @Test func identicalFilesThroughVariablesAndJSONTemplates() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-vars")
        let out = dir.file("logs")
        try #"{ "version": 1, "nomatch": "unknown", "type": "string", "table": [ {"index": "h1", "value": "edge"}, {"index": "web3", "value": "web"} ] }"#
            .write(toFile: dir.file("tiers.json"), atomically: true, encoding: .utf8)
        try #"{ "version": 1, "nomatch": "none", "type": "sparseArray", "table": [ {"index": 0, "value": "low"}, {"index": 100, "value": "high"} ] }"#
            .write(toFile: dir.file("bands.json"), atomically: true, encoding: .utf8)
        func config(port: Int) -> String {
            """
            global(parser.escapeControlCharacterTab="off" parser.controlCharacterEscapePrefix="^" localHostname="renamed")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)" name="edge")
            module(load="mmjsonparse")
            lookup_table(name="tiers" file="\(dir.file("tiers.json"))")
            lookup_table(name="bands" file="\(dir.file("bands.json"))" reloadOnHUP="off")
            template(name="vars" type="string" string="[%inputname%] [%$!%] a=[%$!a%] deep=[%$!deep!x%] n=[%$!n%] loc=[%$.l%] ok=[%$!ok%] b=[%$!branch%] tier=[%$.tier%] band=[%$.band%]\\n")
            template(name="mesg" type="string" string="%jsonmesg%\\n")
            template(name="fmt" type="list") {
                property(name="msg" format="json") constant(value="|")
                property(name="msg" format="jsonf" outname="message") constant(value="|")
                property(name="msg" format="jsonr") constant(value="|")
                property(name="msg" format="csv") constant(value="|")
                property(name="$!a" format="jsonf") constant(value="|")
                property(name="timereported" dateFormat="rfc3339" date.inUTC="on") constant(value="\\n")
            }
            template(name="str" type="string" string="%msg:::json% %hostname:::jsonf%\\n")
            template(name="escaped" type="string" string="%msg%|%programname%\\n" option.json="on")
            template(name="fields" type="list" option.jsonf="on") {
                property(outname="message" name="msg" format="jsonf")
                property(outname="host" name="hostname" format="jsonf")
            }
            action(type="mmjsonparse")
            if $parsesuccess == "OK" then {
                set $!ok = "parsed";
            } else {
                set $!ok = "plain";
            }
            set $.l = "local " & $programname;
            set $.tier = lookup("tiers", $hostname);
            set $.band = lookup("bands", $pri);
            if exists($!n) then {
                set $!n = cnum($!n) * 2 + 1;
            } else {
                set $!n = 0;
            }
            if not exists($!branch) then {
                set $!branch = "then";
            } else {
                set $!branch = "else";
            }
            unset $!drop;
            reset $!deep = $!deep;
            template(name="each" type="string" string="%programname% [%$.item%]\\n")
            $template legacyjson,"{\\"m\\":\\"%msg%\\"}\\n",json
            action(type="omfile" file="\(out)/legacyjson.log" template="legacyjson")
            foreach ($.item in $!arr) do {
                action(type="omfile" file="\(out)/each.log" template="each")
            }
            foreach ($.item in $!deep) do {
                action(type="omfile" file="\(out)/each.log" template="each")
            }
            ruleset(name="by_app") {
                action(type="omfile" file="\(out)/indirect.log" template="each")
            }
            call_indirect "by_" & $programname;
            action(type="omfile" file="\(out)/vars.log" template="vars")
            action(type="omfile" file="\(out)/mesg.log" template="mesg")
            action(type="omfile" file="\(out)/fmt.log" template="fmt")
            action(type="omfile" file="\(out)/str.log" template="str")
            action(type="omfile" file="\(out)/escaped.log" template="escaped")
            action(type="omfile" file="\(out)/fields.log" template="fields")
            *.* \(out)/all.log

            """
        }
        let corpus = [
            "<13>Nov 26 08:51:08 h1 app: he said \"hi\"\ttab\\back/slash,comma",
            #"<13>Nov 26 08:51:08 h1 app: @cee: {"a":"fromcee","deep":{"x":1},"arr":[1,"two"],"n":20,"drop":"x"}"#,
            #"<13>Nov 26 08:51:09 h1 app: @cee: {"a":"bad json"#,
            #"<165>1 2026-11-26T08:51:12.123+01:00 web3 api 77 M1 [x@1 k="v"] five424 "q" a/b"#,
            #"<13>Nov 26 08:51:09 h1 app:    @cee:{"branch":"given"}"#,
            "<13>Nov 26 08:51:09 h1 app: bell\u{07} and escape\u{1B}",
            "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
        ].map { Array($0.utf8) }
        try feedBoth(dir: dir, config: config, probe: "\(out)/all.log", marker: "BFG!", corpus: corpus)
        // jsonmesg holds the reception time, which differs between the daemons: masked. Each daemon had its own
        // number of readiness probes: left out.
        let mask = try Regex(#""timegenerated": "[^"]*""#)
        func lines(_ path: String) throws -> [String] {
            try content(path).replacing(mask, with: "TG").split(separator: "\n").filter { !$0.contains("ready") }
                .map(String.init)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: out).sorted() {
            let theirs = try lines("\(out)/\(name)")
            let ours = try lines(dir.file("sink") + "\(out)/\(name)")
            #expect(theirs.count >= (["each.log", "indirect.log"].contains(name) ? 1 : 6), "\(name)")
            #expect(ours == theirs, "\(name)\nours:\n\(ours)\ntheirs:\n\(theirs)")
        }
    }

    @Test func identicalFilesThroughRulesetsAndCall() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-rulesets")
        let out = dir.file("logs")
        func config(ports: [Int]) -> String {
            """
            $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(ports[0])")
            input(type="imudp" address="127.0.0.1" port="\(ports[1])" ruleset="remote" rcvbufSize="1m")
            ruleset(name="remote") {
                action(type="omfile" file="\(out)/remote.log")
                if $msg contains 'callme' then {
                    call sub
                }
                action(type="omfile" file="\(out)/remote-after.log")
            }
            $RuleSet legacy
            *.* \(out)/legacy.log
            :msg, contains, "stopme" stop
            *.* \(out)/legacy-after.log
            $RuleSet RSYSLOG_DefaultRuleset
            ruleset(name="sub")
            {
                action(type="omfile" file="\(out)/sub.log")
                if $msg contains 'subonly' then stop
                call legacy
            }
            local0.* \(out)/main.log
            call sub
            *.* \(out)/all.log

            """
        }
        func line(_ text: String) -> [UInt8] { Array("<134>Nov 26 09:00:00 h1 app: \(text)".utf8) }
        let corpus: [(input: Int, bytes: [UInt8])] =
            ["plain remote", "remote callme", "remote callme subonly", "remote callme stopme", "remote again"].map {
                (1, line($0))
            } + ["plain main", "main callme subonly", "main stopme", "main last"].map { (0, line($0)) }
        try feedBoth(
            dir: dir, inputs: 2, config: config, probe: "\(out)/all.log", marker: "main last", corpus: corpus)
        let names = try expectSameFiles(out, dir: dir)
        #expect(names.count == 7, "\(names)")
        let remoteAfter = try content("\(out)/remote-after.log")
        #expect(remoteAfter.contains("remote again") && !remoteAfter.contains("stopme"))
    }

    @Test func identicalFilesWithRepeatedMessageReduction() async throws {
        let dir = try TemporaryDirectory(prefix: "sink-vs-rsyslog-repeats")
        let out = dir.file("logs")
        func config(port: Int) -> String {
            """
            $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            $RepeatedMsgReduction off
            user.* \(out)/notice.log
            $RepeatedMsgReduction on
            user.=info \(out)/reduced.log
            user.=info action(type="omfile" file="\(out)/reduced-object.log" template="RSYSLOG_FileFormat")

            """
        }
        var corpus: [[UInt8]] = []
        for (n, text) in ["A", "A", "A", "B", "C", "D", "D", "E", "F", "G", "G", "G"].enumerated() {
            corpus.append(Array("<14>Nov 26 10:00:\(10 + n) h1 app[7]: \(text)".utf8))
        }
        // Same text from another host or process id: not a repeat.
        corpus.append(Array("<14>Nov 26 10:00:30 h2 app[7]: G".utf8))
        corpus.append(Array("<14>Nov 26 10:00:31 h2 app[8]: G".utf8))
        corpus.append(Array("<14>Nov 26 10:00:32 h2 app[8]: G".utf8))
        corpus.append(Array("<14>Nov 26 10:00:33 h2 app[8]: G".utf8))
        // One setting for all actions, the last one read (notice.log is reduced too). A notice goes only to
        // notice.log, so the last repeats of the others are still held when both daemons stop.
        corpus.append(Array("<13>Nov 26 10:00:40 h1 app: end".utf8))
        try feedBoth(
            dir: dir, config: config, probe: "\(out)/notice.log", marker: "end", corpus: corpus, spacing: 0.05)
        let names = try expectSameFiles(out, dir: dir)
        #expect(names.count == 3, "\(names)")
        let reduced = try content("\(out)/reduced.log")
        #expect(reduced.contains("h1 app[7]: message repeated 2 times: [ A]\n"), "\(reduced)")
        #expect(reduced.hasSuffix("h2 app[8]: message repeated 2 times: [ G]\n"), "written when the daemon stops")
    }

    /// Starts rsyslogd and syslog-sink (under `dir/sink`) with `config(port)`, waits until each has written a probe
    /// to `probe`, sends `corpus` to both, waits for `marker` in both copies of `probe`, and stops both.
    func feedBoth(
        dir: TemporaryDirectory, config: (Int) -> String, probe: String, marker: String, corpus: [[UInt8]],
        spacing: Double = 0
    ) throws {
        try feedBoth(
            dir: dir, inputs: 1, config: { config($0[0]) }, probe: probe, marker: marker,
            corpus: corpus.map { (0, $0) }, spacing: spacing)
    }

    /// The same with `inputs` UDP ports each (the probe goes to the first): each message of `corpus` names the
    /// input it is sent to; when that changes, a pause lets the daemons finish the previous input's messages
    /// (datagrams on two sockets have no order of their own). `spacing` seconds between messages make each its
    /// own batch in rsyslogd (whose repeat reduction looks only across batches).
    func feedBoth(
        dir: TemporaryDirectory, inputs: Int, config: ([Int]) -> String, probe: String, marker: String,
        corpus: [(input: Int, bytes: [UInt8])], spacing: Double = 0
    ) throws {
        let rsyslogd = try Peers.find("rsyslogd")
        let sinkBinary = try Products.path("syslog-sink")
        var rsPorts: [Int] = []
        var sinkPorts: [Int] = []
        while rsPorts.count < inputs {
            let p = try Peers.freePort(udp: true)
            if !rsPorts.contains(p) { rsPorts.append(p) }
        }
        while sinkPorts.count < inputs {
            let p = try Peers.freePort(udp: true)
            if !sinkPorts.contains(p) && !rsPorts.contains(p) { sinkPorts.append(p) }
        }
        try config(rsPorts).write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try config(sinkPorts).write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.file("work"), withIntermediateDirectories: true)
        let rsyslog = try RunningPeer(
            rsyslogd, ["-n", "-f", dir.file("rsyslog.conf"), "-i", dir.file("rsyslogd.pid")],
            logPath: dir.file("rsyslogd.out"))
        defer { rsyslog.stop() }
        let sink = try RunningPeer(
            sinkBinary, ["-n", "-f", dir.file("sink.conf"), "--root", dir.file("sink")], logPath: dir.file("sink.out"))
        defer { sink.stop() }

        let toRsyslog = try rsPorts.map { try SyslogSender(target: .udp(host: "127.0.0.1", port: $0)) }
        let toSink = try sinkPorts.map { try SyslogSender(target: .udp(host: "127.0.0.1", port: $0)) }
        // Both must be listening: a probe each until its syslog file shows it.
        for (sender, file) in [(toRsyslog[0], probe), (toSink[0], dir.file("sink") + probe)] {
            let up = Peers.waitUntil(seconds: 15) {
                sender.send(Array("<13>Nov 26 08:00:00 probe: ready".utf8))
                return ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").contains("probe: ready")
            }
            try #require(up, "not listening: \(rsyslog.output) \(sink.output)")
        }
        var previous = corpus.first?.input
        for m in corpus {
            if m.input != previous { Thread.sleep(forTimeInterval: 0.4) }
            if spacing > 0 { Thread.sleep(forTimeInterval: spacing) }
            previous = m.input
            toRsyslog[m.input].send(m.bytes)
            toSink[m.input].send(m.bytes)
        }
        // Wait for the last one in both syslog files, then stop both (files flushed).
        for file in [probe, dir.file("sink") + probe] {
            let done = Peers.waitUntil(seconds: 15) {
                ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").contains(marker)
            }
            #expect(done, "\(file)")
        }
        rsyslog.stop()
        sink.stop()
    }
}

/// journalctl, once journald's socket takes entries (`make test` starts a journald when none runs).
func requireJournald() throws -> String {
    let journalctl = try Peers.find("journalctl")
    try #require(
        Peers.waitUntil(seconds: 5) { access("/run/systemd/journal/socket", W_OK) == 0 },
        "systemd-journald is not running (make test starts it)")
    return journalctl
}
