import Foundation
import SyslogProtocol
import TestSupport
import Testing

@testable import SyslogSink

@Suite("User templates, dynaFile and journald actions")
struct TemplateActionTests {
    func message(_ text: String) -> SyslogMessage {
        SyslogParser.parse(Array(text.utf8), reception: SyslogReception(fromHost: "localhost"))
    }

    @Test func dynaFilesStayWithinTheirCacheAndLoseNothing() throws {
        let dir = try TemporaryDirectory(prefix: "dynafile")
        let paths = try PropertyTemplate(parsing: "/logs/%hostname%/%programname%.log", escapes: .none)
        let files = DynamicFiles(
            name: "PerHost", paths: paths, root: dir.path, createMode: 0o640, dirCreateMode: 0o750, cacheSize: 2)
        let template = OutputTemplate.builtin(.traditionalFileFormat)
        for round in 1...3 {
            for host in ["a", "b", "c"] {
                files.append(message("<13>Nov 26 08:00:0\(round) \(host) app: round \(round)"), as: template)
                #expect(files.openFiles <= 2)
            }
        }
        files.flush()
        for host in ["a", "b", "c"] {
            let text = try String(contentsOfFile: dir.file("logs/\(host)/app.log"), encoding: .utf8)
            #expect(text == (1...3).map { "Nov 26 08:00:0\($0) \(host) app: round \($0)\n" }.joined())
        }
        #expect(files.written > 0 && files.failed == 0)
    }

    @Test func templatesTheReplacerCannotRenderDisableTheirActionsWithAReason() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                $template Numbers,"%msg:::compressspace%\\n"
                template(name="Fine" type="string" string="%hostname% %msg%\\n")
                *.* /var/log/numbers.log;Numbers
                *.* /var/log/fine.log;Fine
                """, name: "t.conf")
        #expect(c.errors.contains { $0.message.contains("option 'compressspace'") && $0.location.line == 1 })
        let rules = Ruleset(c, root: nil)
        #expect(rules.notes.count == 1)
        #expect(rules.notes.first?.contains("t.conf:3: template 'Numbers' cannot be used") == true)
    }

    @Test func ownersGroupsAndUmaskAsDirectivesSayInOrder() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                *.* /var/log/before.log
                $FileOwner no-such-user-here
                $FileGroup 4
                $DirOwnerNum 0
                $Umask 0027
                *.* /var/log/after.log
                action(type="omfile" file="/var/log/param.log" fileGroup="0")
                """, name: "own.conf")
        #expect(c.errors.contains { $0.message == "ID for user 'no-such-user-here' could not be found" })
        #expect(c.umask == 0o027)
        try #require(c.rules.count == 3)
        var expected = FileOwnership()
        expected.fileGroup = 4
        expected.dirOwner = 0
        guard case .file(_, _, _, _, _, let before, _) = c.rules[0].actions[0],
            case .file(_, _, _, _, _, let after, _) = c.rules[1].actions[0],
            case .file(_, _, _, _, _, let param, _) = c.rules[2].actions[0]
        else {
            Issue.record("not three file actions: \(c.rules)")
            return
        }
        #expect(before == FileOwnership())
        #expect(after == expected)
        expected.fileGroup = 0
        #expect(param == expected)
    }

    @Test func listTemplatesOnOneLineOrManyAndWhatTheyRefuse() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                template(name="Inline" type="list") { constant(value="<") property(name="hostname") constant(value=">\\n") }
                template(name="Json" type="list")
                {
                    property(name="msg" format="xml")
                }
                *.* /var/log/inline.log;Inline
                *.* /var/log/json.log;Json
                """, name: "list.conf")
        let m = message("<13>Nov 26 08:00:00 web1 app: x")
        guard case .success(let inline)? = c.templates["inline"]?.compiled else {
            Issue.record("Inline did not compile: \(c.warnings)")
            return
        }
        #expect(String(decoding: inline.render(m), as: UTF8.self) == "<web1>\n")
        #expect(c.errors.map(\.location.line) == [2])
        #expect(c.errors.first?.message.contains("format 'xml'") == true)
        #expect(c.rules.count == 2)
    }

    @Test func omjournalTemplatesMustNameJournalFields() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                template(name="plain" type="string" string="%msg%")
                template(name="lower" type="list") { property(name="msg" outname="message") }
                template(name="fine" type="list") { property(name="msg" outname="MESSAGE") }
                *.* action(type="omjournal" template="plain")
                *.* action(type="omjournal" template="lower")
                *.* action(type="omjournal" template="fine")
                *.* action(type="omjournal" template="missing")
                """, name: "j.conf")
        #expect(
            c.errors.map(\.description) == ["j.conf:7: error: Could not find template 'missing' - action disabled"])
        let notes = Ruleset(c, root: nil).notes
        #expect(
            notes == [
                "j.conf:4: omjournal template 'plain' is not a list template with outname= fields: action disabled",
                "j.conf:5: 'message' is not a journal field name ([A-Z0-9_], no leading _): action disabled",
            ])
    }

    @Test func journaldAbsentIsCountedNotSilentlyLost() {
        let writer = JournalWriter(socketPath: "/nonexistent/journal/socket")
        writer.send(message("<13>Nov 26 08:00:00 h app: nobody listens"))
        writer.send(message("<13>Nov 26 08:00:01 h app: still nobody"))
        #expect(writer.absent == 2 && writer.sent == 0 && writer.failed == 0)
    }
}

@Suite("RainerScript if/then/else")
struct RainerScriptIfTests {
    @Test func branchesBecomeRulesWithTheirConditions() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                if $programname == 'haproxy' then /var/log/haproxy.log
                & stop
                if $syslogseverity <= 3
                   and not ($msg contains "noise") then {
                    /var/log/errors.log
                    if prifilt("local0.*") then {
                        stop
                    }
                    /var/log/errors-not-local0.log
                } else {
                    action(type="omfile"
                           file="/var/log/calm.log")
                }
                """, name: "if.conf")
        // A block's condition is decided once, where the `if` stands (a rule with no actions keeps it in a slot),
        // and its branches recall it: a `set` in a branch cannot change which branch ran.
        #expect(c.rules.count == 7)
        #expect(c.rules[0].actions.count == 2, "& stop continues the single-line if")
        let severity = SinkCondition.compare(.property("syslogseverity"), "<=", .number(3))
        let quiet = SinkCondition.not(.compare(.property("msg"), "contains", .string("noise")))
        let both = SinkCondition.and(severity, quiet)
        #expect(c.rules[1].filter == .expression(.remember(0, both)) && c.rules[1].actions.isEmpty)
        #expect(c.rules[2].filter == .expression(.recall(0)))
        #expect(c.rules[3].filter == .expression(.remember(1, .and(.recall(0), .prifilt(try PriorityFilter("local0.*"))))))
        #expect(c.rules[4].filter == .expression(.recall(1)) && c.rules[4].actions == [.stop])
        #expect(c.rules[5].filter == .expression(.recall(0)))
        #expect(c.rules[6].filter == .expression(.not(.recall(0))))
        #expect(c.rules.map(\.location.line) == [1, 3, 5, 6, 7, 9, 11], "each rule at its if or first action")
    }

    @Test(arguments: [
        ("if $msg == 'x' /var/log/x", "'if' without 'then'"),
        ("if $msg = 'x' then /var/log/x", "unexpected"),
        ("if $msg == 'x' ; then /var/log/x", "unexpected character ';'"),
        ("if prifilt(\"bogus.*\") then /var/log/x", "prifilt"),
        ("if re_match($msg, \"(\") then /var/log/x", "cannot compile"),
        ("if $msg == 'x' then {\n/var/log/x\n", "never closed"),
        ("if ($msg == 'x' then /var/log/x", "')' missing"),
    ])
    func errorsNameTheLine(text: String, problem: String) {
        #expect {
            _ = try RsyslogConfigParser.parse(text: "# first\n" + text, name: "bad.conf")
        } throws: { error in
            "\(error)".contains(problem) && "\(error)".contains("bad.conf:2")
        }
    }
}

@Suite("Properties in filters")
struct FilterPropertyTests {
    @Test func everyTemplatePropertyCanBeFilteredOn() throws {
        let dir = try TemporaryDirectory(prefix: "filter-properties")
        let c = try RsyslogConfigParser.parse(
            text: """
                $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
                :fromhost-ip, isequal, "192.0.2.7" /logs/by-ip.log
                :syslogseverity, isequal, "5" /logs/by-severity.log
                if $$year > 2000 and $pri == 13 and $fromhost-ip startswith '192.' then /logs/by-expression.log
                :fromhost-ip, isequal, "10.9.9.9" /logs/never.log
                """, name: "props.conf")
        let rules = Ruleset(c, root: dir.path)
        let reception = SyslogReception(
            receivedAt: .now(), fromHost: Array("gw".utf8), fromHostIP: Array("192.0.2.7".utf8))
        rules.process(SyslogParser.parse(Array("<13>Nov 26 08:00:00 h app: hello".utf8), reception: reception))
        rules.flush()
        for name in ["by-ip", "by-severity", "by-expression"] {
            let text = try String(contentsOfFile: dir.file("logs/\(name).log"), encoding: .utf8)
            #expect(text == "Nov 26 08:00:00 h app: hello\n", "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("logs/never.log")))
    }

    @Test func aRulesetThatCallsItselfIsCutNotEndless() throws {
        let dir = try TemporaryDirectory(prefix: "ruleset-loop")
        let c = try RsyslogConfigParser.parse(
            text: """
                $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
                ruleset(name="a") {
                    *.* /logs/a.log
                    call b
                }
                ruleset(name="b") {
                    call a
                }
                call a
                *.* /logs/after.log
                """, name: "loop.conf")
        let rules = Ruleset(c, root: dir.path)
        rules.process(
            SyslogParser.parse(
                Array("<13>Nov 26 08:00:00 h app: round and round".utf8),
                reception: SyslogReception(fromHost: "localhost")))
        rules.flush()
        let a = try String(contentsOfFile: dir.file("logs/a.log"), encoding: .utf8)
        #expect(a.split(separator: "\n").count == Ruleset.maximumCallDepth / 2)
        let after = try String(contentsOfFile: dir.file("logs/after.log"), encoding: .utf8)
        #expect(after == "Nov 26 08:00:00 h app: round and round\n")
        #expect(rules.statistics().contains("ruleset: processed=1 config-errors=0 calls-cut=1"))
    }
}
