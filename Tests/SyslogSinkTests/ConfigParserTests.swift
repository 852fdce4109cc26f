import Foundation
import LogCore
import SyslogProtocol
import TestSupport
import Testing

@testable import SyslogSink

@Suite("rsyslog.conf")
struct ConfigParserTests {
    @Test func theSeedsConfigurationWithItsInclude() throws {
        let dir = try TemporaryDirectory(prefix: "rsyslog-conf")
        try FileManager.default.createDirectory(atPath: dir.file("rsyslog.d"), withIntermediateDirectories: true)
        try "$ModLoad imudp\n$UDPServerRun 514\n$IncludeConfig \(dir.file("rsyslog.d"))/*.conf\n"
            .write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try "local0.*    /var/log/haproxy.log\n&~\n"
            .write(toFile: dir.file("rsyslog.d/haproxy.conf"), atomically: true, encoding: .utf8)
        try "# a dot-file is skipped\nbogus line\n".write(
            toFile: dir.file("rsyslog.d/.hidden.conf"), atomically: true, encoding: .utf8)
        let c = try RsyslogConfigParser.parse(file: dir.file("rsyslog.conf"))
        #expect(c.inputs == [.udp(address: nil, port: 514)])
        #expect(c.rules.count == 1)
        let rule = try #require(c.rules.first)
        guard case .priority(let filter) = rule.filter else {
            Issue.record("not a selector")
            return
        }
        #expect(filter.matches(Priority(facility: .local0, severity: .debug)))
        #expect(!filter.matches(Priority(facility: .local1, severity: .emergency)))
        #expect(rule.actions.count == 2)
        guard case .file(let path, let template, _, let mode, let dirMode, _, _) = rule.actions[0] else {
            Issue.record("not a file action")
            return
        }
        #expect(path == "/var/log/haproxy.log")
        #expect(template == "RSYSLOG_FileFormat", "rsyslog 8's omfile default")
        #expect(mode == 0o644 && dirMode == 0o700)
        #expect(rule.actions[1] == .stop)
        #expect(c.warnings.map(\.message) == ["~ action is deprecated, consider using the 'stop' statement"])
        #expect(c.warnings.first?.location.description == dir.file("rsyslog.d/haproxy.conf") + ":2")
    }

    @Test func orderSensitiveDirectives() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                local0.* /var/log/before.log
                $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
                $FileCreateMode 0640
                $DirCreateMode 0755
                local0.* -/var/log/after.log
                $template Short,"%msg%\\n"
                local1.* /var/log/short.log;Short
                local2.* /var/log/missing.log;Undefined
                $ModLoad imudp
                $UDPServerAddress 127.0.0.1
                $UDPServerRun 5514
                $UDPServerAddress *
                $UDPServerRun 5515
                """)
        let actions = c.rules.flatMap(\.actions)
        #expect(actions.count == 3, "the action with an undefined template is disabled")
        #expect(
            actions[0]
                == .file(
                    path: "/var/log/before.log", template: "RSYSLOG_FileFormat", sync: false, createMode: 0o644,
                    dirCreateMode: 0o700))
        #expect(
            actions[1]
                == .file(
                    path: "/var/log/after.log", template: "RSYSLOG_TraditionalFileFormat", sync: false,
                    createMode: 0o640, dirCreateMode: 0o755))
        #expect(
            actions[2]
                == .file(
                    path: "/var/log/short.log", template: "Short", sync: false, createMode: 0o640, dirCreateMode: 0o755)
        )
        #expect(
            c.errors.contains { $0.message.contains("Could not find template 'Undefined'") && $0.location.line == 8 })
        #expect(c.inputs == [.udp(address: "127.0.0.1", port: 5514), .udp(address: nil, port: 5515)])
    }

    @Test func filtersActionsAndBlocks() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                :programname, startswith, "haproxy" {
                  /var/log/haproxy.log
                  stop
                }
                :msg, !contains, "sec\\"ret" /var/log/clean.log
                *.info;mail.none
                    -/var/log/messages
                & @@(o)collector.example.net:10514
                & @[2001:db8::1]:1514
                & :omusrmsg:*
                module(load="omjournal")
                local3.* action(type="omjournal")
                action(type="omfwd" target="10.0.0.9" port="6514" protocol="tcp" TCP_Framing="octet-counted")
                module(load="imtcp" maxSessions="500")
                input(type="imtcp" port="10514")
                """)
        #expect(c.rules.count == 5)
        #expect(
            c.rules[0].filter
                == .property(name: "programname", operation: "startswith", negated: false, value: "haproxy"))
        #expect(c.rules[0].actions.count == 2 && c.rules[0].actions[1] == .stop)
        #expect(c.rules[1].filter == .property(name: "msg", operation: "contains", negated: true, value: "sec\"ret"))
        #expect(c.rules[2].actions.count == 4)
        #expect(
            c.rules[2].actions[1]
                == .forward(
                    host: "collector.example.net", port: 10514, tcp: true, octetCounted: true,
                    template: "RSYSLOG_TraditionalForwardFormat"))
        #expect(
            c.rules[2].actions[2]
                == .forward(
                    host: "2001:db8::1", port: 1514, tcp: false, octetCounted: false,
                    template: "RSYSLOG_TraditionalForwardFormat"))
        #expect(c.rules[3].actions == [.journal()])
        #expect(
            c.rules[4].actions == [
                .forward(
                    host: "10.0.0.9", port: 6514, tcp: true, octetCounted: true,
                    template: "RSYSLOG_TraditionalForwardFormat")
            ])
        #expect(
            c.inputs == [.tcp(address: nil, port: 10514, maxSessions: 500)], "the module's limit applies to its inputs")
        #expect(c.rules.flatMap(\.actions).contains(.userMessage(users: nil, template: " WallFmt")))
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let text: String
        let line: Int
        let message: String
        var testDescription: String { message }
    }

    static let bad: [Bad] = [
        Bad(text: "# comment\nlocal0.bogus /x", line: 2, message: "unknown priority name \"bogus\""),
        Bad(text: "\n\nbsd_security.* /x", line: 3, message: "unknown facility name \"bsd_security\""),
        Bad(text: "& /x", line: 1, message: "'&' continues no rule: nothing precedes it"),
        Bad(text: "local0.*", line: 1, message: "selector without an action"),
        Bad(text: "$ModLoad imudp\nmodule(load=\"imudp\")", line: 2, message: "module 'imudp' already in this config"),
        Bad(text: "$ModLoad imudp\n$UDPServerRun 99999", line: 2, message: "$UDPServerRun: '99999' is not a port"),
        Bad(text: ":msg, matches, \"x\" /x", line: 1, message: "unknown property filter operation 'matches'"),
        Bad(text: "local0.* @host:notaport", line: 1, message: "bad port in @host:notaport"),
        Bad(text: "local0.* {\n /x\n", line: 1, message: "'{' is never closed"),
        Bad(text: "$FileCreateMode 0999", line: 1, message: "$FileCreateMode takes an octal mode, not '0999'"),
        Bad(text: "local0.* /x\ncall nowhere\n", line: 2, message: "ruleset 'nowhere' cannot be found"),
        Bad(
            text: "ruleset(name=\"a\") {\n}\nruleset(name=\"a\") {\n}", line: 3,
            message: "ruleset 'a' specified more than once"),
        Bad(text: "ruleset(name=\"a\") {\n*.* /x\n", line: 1, message: "'{' is never closed"),
        Bad(text: "*.* /x\n}", line: 2, message: "'}' closes nothing"),
        Bad(
            text: "ruleset(name=\"a\") { stop }", line: 1,
            message: "put the statements of ruleset 'a' on lines of their own after '{'"),
        Bad(
            text: "module(load=\"imudp\")\ninput(type=\"imudp\" rcvbufSize=\"lots\")", line: 2,
            message: "rcvbufSize: 'lots' is not a size"),
        Bad(text: "$MaxMessageSize 100", line: 1, message: "$MaxMessageSize: '100' (at least 128)"),
        Bad(
            text: "*.* action(type=\"omfwd\" target=\"c\" protocol=\"tcp\" queue.type=\"Disk\")", line: 1,
            message: "a Disk queue needs queue.filename"),
        Bad(
            text: "$ActionQueueType LinkedList\n$ActionQueueFileName fwd\n*.* @@c:514", line: 3,
            message: "queue.filename needs a work directory: $WorkDirectory or global(workDirectory=…) before it, "
                + "or queue.spoolDirectory"),
        Bad(
            text: "$ActionQueueType Bogus", line: 1,
            message: "queue.type must be Direct, LinkedList, FixedArray or Disk, not 'Bogus'"),
        Bad(
            text: "*.* action(type=\"omfwd\" target=\"c\" action.resumeRetryCount=\"-2\")", line: 1,
            message: "action.resumeretrycount takes a number from -1 to 2147483647, not '-2'"),
    ]

    /// rsyslog's reliable-forwarding recipes, legacy and RainerScript: the queue settings go to the next action
    /// only.
    @Test func forwardingQueuesInBothSyntaxes() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                $WorkDirectory /var/spool/rsyslog
                $ActionQueueType LinkedList
                $ActionQueueFileName srvrfwd
                $ActionResumeRetryCount -1
                $ActionQueueSaveOnShutdown on
                $ActionQueueMaxDiskSpace 10g
                *.* @@collector:10514
                *.* @@other:514
                local0.* action(type="omfwd" target="central" port="514" protocol="tcp" queue.type="FixedArray"
                    queue.size="50000" queue.filename="central" queue.highWatermark="40000" action.resumeRetryCount="-1"
                    action.resumeInterval="5" queue.saveOnShutdown="on" writeTimeout="20" queue.workerThreads="2")
                local1.* action(type="omfile" file="/var/log/x" queue.type="LinkedList")
                $ActionQueueType LinkedList
                local2.* /var/log/y
                """)
        guard case .forward(_, 10514, true, false, _, let q1, _) = c.rules[0].actions[0],
            case .forward(_, 514, true, false, _, let q2, _) = c.rules[1].actions[0],
            case .forward("central", 514, true, false, _, let q3, _) = c.rules[2].actions[0]
        else {
            Issue.record("\(c.rules)")
            return
        }
        #expect(q1.kind == .linkedList && q1.fileName == "srvrfwd" && q1.resumeRetryCount == -1 && q1.saveOnShutdown)
        #expect(q1.maxDiskSpace == 10 << 30 && q1.workDirectory == "/var/spool/rsyslog")
        #expect(
            q2
                == {
                    var d = ActionQueueSettings(); d.workDirectory = "/var/spool/rsyslog"; return d
                }())
        #expect(q3.kind == .fixedArray && q3.size == 50000 && q3.spillMark == 40000 && q3.resumeInterval == 5)
        #expect(q3.writeTimeout == 20 && q3.saveOnShutdown)
        #expect(c.warnings.contains { $0.message.contains("queue.workerthreads is accepted and has no effect") })
        #expect(
            c.warnings.contains {
                $0.message == "queue.type on omfile is accepted and not used: only forwarding has a queue here"
                    && $0.location.line == 12
            })
        #expect(
            c.warnings.contains {
                $0.message.contains("$ActionQueue… settings before this action are not used") && $0.location.line == 14
            })
    }

    @Test("errors name the file and line", arguments: bad)
    func errors(_ b: Bad) {
        do {
            _ = try RsyslogConfigParser.parse(text: b.text, name: "test.conf")
            Issue.record("accepted: \(b.text)")
        } catch let d as ConfigDiagnostic {
            #expect(d.location == SourceLocation(file: "test.conf", line: b.line))
            #expect(d.message == b.message)
        } catch {
            Issue.record("\(error)")
        }
    }

    /// As rsyslogd: what cannot be honoured is an error naming its line (-N1 fails), and the rest still loads.
    @Test func unknownThingsAreErrorsAndTheRestLoads() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                $SomethingNew on
                $ModLoad imfancy
                set $/x = 1;
                local0.* /var/log/haproxy.log
                """, name: "w.conf")
        #expect(c.rules.count == 2, "the global variable's set is left out, as an ignored action")
        #expect(c.errors.map(\.location.line) == [1, 2, 3])
        #expect(c.warnings.isEmpty)
    }

    @Test func rulesetsCallsAndBoundInputs() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                module(load="imudp")
                module(load="imtcp")
                input(type="imudp" port="514" ruleset="remote" rcvbufSize="256k")
                input(type="imtcp" port="10514" ruleset="missing")
                call early
                ruleset(name="remote" queue.type="LinkedList") {
                    if $msg contains 'x' then {
                        call early
                    }
                    local0.* /var/log/remote.log
                    & stop
                }
                ruleset(name="early")
                {
                    *.* /var/log/early.log
                }
                $RuleSet legacy
                *.* /var/log/legacy.log
                $InputUDPServerBindRuleset legacy
                $UDPServerRun 1514
                $RuleSet RSYSLOG_DefaultRuleset
                *.* /var/log/all.log
                """, name: "r.conf")
        #expect(
            c.inputs == [
                .udp(address: nil, port: 514, ruleset: "remote", receiveBuffer: 256 << 10),
                .tcp(address: nil, port: 10514, maxSessions: 200),
                .udp(address: nil, port: 1514, ruleset: "legacy"),
            ])
        #expect(c.rules.count == 2, "the call, then all.log")
        #expect(c.rules.first?.actions == [.call("early")])
        #expect(c.rulesets.keys.sorted() == ["early", "legacy", "remote"])
        #expect(c.rulesets["remote"]?.count == 3, "the if's decision, its branch, the selector")
        #expect(c.rulesets["remote"]?[1].actions == [.call("early")])
        #expect(c.rulesets["remote"]?.last?.actions.last == .stop)
        #expect(c.rulesets["early"]?.count == 1)
        #expect(c.rulesets["legacy"]?.count == 1)
        let warnings = c.warnings.map(\.description)
        #expect(c.errors.map(\.description) == ["r.conf:4: error: ruleset 'missing' not found - using default ruleset instead"])
        #expect(warnings.contains { $0.hasPrefix("r.conf:6: warning: ruleset parameter 'queue.type'") })
    }

    @Test func theCommandChecksLikeRsyslogdN1() throws {
        let sink = try Products.path("syslog-sink")
        let dir = try TemporaryDirectory(prefix: "n1")
        try "$ModLoad imudp\n$UDPServerRun 514\nlocal0.* /var/log/haproxy.log\n& stop\n"
            .write(toFile: dir.file("ok.conf"), atomically: true, encoding: .utf8)
        let ok = try Peers.run(sink, ["-N1", "-f", dir.file("ok.conf")])
        #expect(ok.status == 0)
        #expect(String(decoding: ok.stderr, as: UTF8.self).contains("End of config validation run"))
        try "local0.* /x\nmail.wrong /y\n".write(toFile: dir.file("bad.conf"), atomically: true, encoding: .utf8)
        let bad = try Peers.run(sink, ["-N1", "-f", dir.file("bad.conf")])
        #expect(bad.status == 1)
        #expect(
            String(decoding: bad.stderr, as: UTF8.self).contains("bad.conf:2: error: unknown priority name \"wrong\""))
    }
}

/// Forms from real-world rsyslog files that rsyslogd reads and the sink misread: a `/*` inside a `#` comment,
/// `config.enabled`, a backtick constant in an expression, a legacy action with no selector, and rsyslogd's own
/// refusals (a built-in module loaded by its bare name).
@Suite("rsyslog.conf forms from real-world files")
struct RealWorldFormsTests {
    static func paths(_ c: SinkConfiguration) -> [String] {
        c.rules.flatMap(\.actions).compactMap { action in
            if case .file(let path, _, _, _, _, _, _) = action { return path }
            return nil
        }
    }

    @Test func aBlockCommentOpenerInsideAHashCommentOpensNothing() throws {
        let c = try RsyslogConfigParser.parse(
            text: "# /* rsyslog configuration file\n#  * see rsyslog-*/doc.html\n*.info /var/log/messages\n")
        #expect(Self.paths(c) == ["/var/log/messages"] && c.errors.isEmpty)
        // A real block comment still hides what it spans.
        let block = try RsyslogConfigParser.parse(text: "/* *.info /var/log/a\n*/\n*.info /var/log/b\n")
        #expect(Self.paths(block) == ["/var/log/b"])
    }

    @Test func configEnabledLeavesOutWhatIsNotOn() throws {
        setenv("TOLLGATE_TEST_ENABLE", "on", 1)
        let c = try RsyslogConfigParser.parse(
            text: """
                include(file="/nonexistent/tollgate.conf" config.enabled="off")
                module(load="imudp")
                input(type="imudp" port="5514" config.enabled="yes")
                input(type="imudp" port="5515" config.enabled=`echo $TOLLGATE_TEST_ENABLE`)
                action(type="omfile" file="/var/log/off.log" config.enabled="off")
                action(type="omfile" file="/var/log/on.log" config.enabled="on")
                """)
        #expect(c.errors.isEmpty, "\(c.errors)")
        #expect(Self.paths(c) == ["/var/log/on.log"])
        #expect(c.inputs.count == 1, "only the input whose config.enabled is exactly \"on\" (rsyslogd's test)")
        // A disabled action's parameters are still checked, as rsyslogd checks them.
        let bad = try RsyslogConfigParser.parse(
            text: "action(type=\"omfile\" fil=\"/var/log/x\" config.enabled=\"off\")\n*.* /var/log/y\n")
        #expect(!bad.errors.isEmpty)
    }

    @Test func aBacktickConstantInAnExpression() throws {
        setenv("TOLLGATE_TEST_TENANT", "acme", 1)
        let c = try RsyslogConfigParser.parse(
            text: "set $.index = \"logs-\" & `echo $TOLLGATE_TEST_TENANT` & \"-main\";\n*.* /var/log/x\n")
        #expect(c.errors.isEmpty, "\(c.errors)")
    }

    @Test func aLegacyActionWithNoSelectorTakesEveryMessage() throws {
        let c = try RsyslogConfigParser.parse(text: "*.info /var/log/a.log\n/var/log/all.log\n")
        #expect(Self.paths(c) == ["/var/log/a.log", "/var/log/all.log"])
        #expect(c.rules.last?.filter == .priority(try PriorityFilter("*.*")))
    }

    @Test(arguments: ["module(load=\"omfwd\")", "$ModLoad omfile", "module(load=\"omusrmsg.so\")"])
    func builtInModulesLoadedByTheirBareNameAreRefusedAsRsyslogdRefusesThem(_ line: String) throws {
        #expect(throws: ConfigDiagnostic.self) { try RsyslogConfigParser.parse(text: line + "\n*.* /var/log/x\n") }
        let c = try RsyslogConfigParser.parse(text: "module(load=\"builtin:omfwd\")\n*.* /var/log/x\n")
        #expect(c.errors.isEmpty)
    }
}

/// omusrmsg as rsyslogd reads it: `*` (the wall, rsyslog's banner), names (up to 20, the short form), a template
/// after `;`; bare names and a bare `*` are refused as rsyslogd's -N1 refuses them.
@Suite("omusrmsg in rsyslog.conf")
struct UserMessageConfigTests {
    @Test func wallNamesAndTemplates() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                *.emerg :omusrmsg:*
                kern.crit :omusrmsg:root, operator
                local0.* :omusrmsg:root;RSYSLOG_TraditionalFileFormat
                local1.* action(type="omusrmsg" users="ops")
                """)
        #expect(c.errors.isEmpty, "\(c.errors)")
        #expect(
            c.rules.flatMap(\.actions) == [
                .userMessage(users: nil, template: " WallFmt"),
                .userMessage(users: ["root", "operator"], template: " StdUsrMsgFmt"),
                .userMessage(users: ["root"], template: "RSYSLOG_TraditionalFileFormat"),
                .userMessage(users: ["ops"], template: " StdUsrMsgFmt"),
            ])
        #expect(c.templates[" wallfmt"] != nil && c.templates[" stdusrmsgfmt"] != nil)
        for bad in ["*.emerg root,operator\n", "*.emerg *\n", "*.* action(type=\"omusrmsg\")\n"] {
            let refused = try RsyslogConfigParser.parse(text: bad + "*.* /var/log/x\n")
            #expect(!refused.errors.isEmpty, "\(bad)")
        }
    }
}
