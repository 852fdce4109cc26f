import LogCore
import SyslogProtocol
import Testing

@testable import SyslogSink

/// imklog's and imjournal's message making, as rsyslog 8.2302 does it (facts from its imklog bsd.c/imklog.c and
/// imjournal.c, checked by running it: see the interop tests for the same lines through rsyslogd).
@Suite("Kernel log lines and journal entries as rsyslog makes them messages")
struct LocalInputTests {
    let host = Array("vm".utf8)
    let now = CivilTime(epochMicroseconds: 1_796_561_946_000_000, utcOffsetSeconds: 0)
    let boot: Int64 = 1_796_560_000_000_000

    func kernel(_ line: String, _ configure: (inout KernelLogSettings) -> Void = { _ in }) -> SyslogMessage? {
        var settings = KernelLogSettings()
        configure(&settings)
        return KernelLogLine(settings: settings, host: host)
            .message(Array(line.utf8)[...], now: now, bootEpochMicroseconds: boot)
    }

    func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func aKernelLineKeepsItsStampInTheTextByDefault() throws {
        let m = try #require(kernel("<6>[ 2036.995927] bash (28056): drop_caches: 1"))
        #expect(m.priority.value == 6)
        #expect(text(m.tagField) == "kernel:")
        #expect(text(m.msg) == "[ 2036.995927] bash (28056): drop_caches: 1")
        #expect(m.timestamp == SyslogTimestamp(now))
        #expect(text(m.hostnameField ?? []) == "vm" && m.fromHostIP == Array("127.0.0.1".utf8))
    }

    @Test func aParsedStampIsTheTimeAndLeavesItsSpace() throws {
        let m = try #require(kernel("<6>[ 2036.995927] bash (28056): drop_caches: 1") { $0.parseKernelTimestamp = true })
        #expect(text(m.msg) == " bash (28056): drop_caches: 1")
        #expect(m.timestamp.civilTime.epochMicroseconds == boot + 2_036_995_927)
        #expect(m.receivedAt == m.timestamp)
        let kept = try #require(
            kernel("<6>[ 2036.995927] x") {
                $0.parseKernelTimestamp = true
                $0.keepKernelTimestamp = true
            })
        #expect(text(kept.msg) == "[ 2036.995927] x")
        #expect(kept.timestamp.civilTime.epochMicroseconds == boot + 2_036_995_927)
    }

    @Test func aStampAfterATwoDigitPRIIsNotParsed() throws {
        let m = try #require(
            kernel("<13>[ 1754.279805] user notice prefix") {
                $0.parseKernelTimestamp = true
                $0.permitNonKernelFacility = true
            })
        #expect(m.priority.value == 13)
        #expect(text(m.msg) == "[ 1754.279805] user notice prefix")
        #expect(m.timestamp == SyslogTimestamp(now))
    }

    @Test func otherFacilitiesAreDroppedUnlessPermitted() {
        #expect(kernel("<13>[ 1.0] from user space") == nil)
        #expect(kernel("<46>[ 390.0] systemd-journald[1]: Received SIGTERM") == nil)
        #expect(kernel("<13>x") { $0.permitNonKernelFacility = true } != nil)
    }

    @Test func aLineWithoutPRIIsKernInfo() throws {
        let m = try #require(kernel("rol-vsock-port 5001"))
        #expect(m.priority.value == 6)
        #expect(text(m.msg) == "rol-vsock-port 5001")
    }

    @Test func aSecondPRIWins() throws {
        let m = try #require(kernel("<6><30>systemd[1]: started") { $0.permitNonKernelFacility = true })
        #expect(m.priority.value == 30)
        #expect(text(m.msg) == "systemd[1]: started")
        let spaced = try #require(kernel("<6> <30>systemd[1]: started") { $0.permitNonKernelFacility = true })
        #expect(spaced.priority.value == 30)
        // Out of 8…191: the first stands.
        let low = try #require(kernel("<6><3>x"))
        #expect(low.priority.value == 6 && text(low.msg) == "<3>x")
    }

    func entry(_ fields: [String: String], _ configure: (inout JournalInputSettings) -> Void = { _ in }) -> SyslogMessage {
        var settings = JournalInputSettings()
        configure(&settings)
        return JournalEntry(settings: settings, options: SyslogParseOptions(), host: host)
            .message({ fields[$0].map { Array($0.utf8) } }, realtimeMicroseconds: 1_796_561_946_889_257)
    }

    @Test func aJournalEntryFromTheSyslogSocket() {
        let m = entry([
            "MESSAGE": "hello via syslog socket", "PRIORITY": "3", "SYSLOG_FACILITY": "19",
            "SYSLOG_IDENTIFIER": "mytag", "SYSLOG_PID": "4242", "_PID": "24931", "_HOSTNAME": "elsewhere",
        ])
        #expect(m.priority.value == 155)
        #expect(text(m.tagField) == "mytag[4242]:")
        #expect(text(m.msg) == "hello via syslog socket")
        #expect(text(m.hostnameField ?? []) == "vm")
        #expect(m.timestamp.civilTime.epochMicroseconds == 1_796_561_946_889_257 && m.receivedAt == m.timestamp)
    }

    @Test func journalDefaultsAndFallbacks() {
        // systemd-cat: no SYSLOG_FACILITY (user), _PID for the pid.
        let cat = entry(["MESSAGE": "x", "PRIORITY": "4", "SYSLOG_IDENTIFIER": "catty", "_PID": "24933"])
        #expect(cat.priority.value == 12 && text(cat.tagField) == "catty[24933]:")
        // A kernel record: no identifier, no pid.
        let kernel = entry(["MESSAGE": "hello test", "PRIORITY": "5"])
        #expect(text(kernel.tagField) == "journal:" && kernel.priority.value == 13)
        let comm = entry(["MESSAGE": "x", "_COMM": "bash"])
        #expect(text(comm.tagField) == "bash:" && comm.priority.value == 13)
        // Invalid PRIORITY / SYSLOG_FACILITY: the configured defaults.
        let odd = entry(["MESSAGE": "x", "PRIORITY": "12", "SYSLOG_FACILITY": "24"]) {
            $0.defaultSeverity = 6
            $0.defaultFacility = 16
        }
        #expect(odd.priority.value == 134)
        let system = entry(["MESSAGE": "x", "SYSLOG_IDENTIFIER": "a", "SYSLOG_PID": "1", "_PID": "2"]) {
            $0.usePID = "system"
        }
        #expect(text(system.tagField) == "a[2]:")
    }

    @Test func aJournalMessageIsSanitisedAsOnReception() {
        let m = entry(["MESSAGE": "line one\nline two\twith tab\n", "SYSLOG_IDENTIFIER": "pyid"])
        #expect(text(m.msg) == "line one#012line two#011with tab")
        let nul = entry(["MESSAGE": "a\u{0}b", "SYSLOG_IDENTIFIER": "n"])
        #expect(text(nul.msg) == "a b")
    }
}

/// How the local inputs are configured, in both syntaxes, as rsyslogd 8.2302 reads them.
@Suite("imklog, immark, imjournal and imptcp in rsyslog.conf")
struct LocalInputConfigurationTests {
    @Test func imklogInBothSyntaxes() throws {
        let modern = try RsyslogConfigParser.parse(
            text: #"module(load="imklog" LogPath="/dev/fake" ParseKernelTimestamp="on" PermitNonKernelFacility="on")"#)
        var expected = KernelLogSettings()
        expected.path = "/dev/fake"
        expected.parseKernelTimestamp = true
        expected.permitNonKernelFacility = true
        #expect(modern.inputs == [.kernelLog(expected)] && modern.errors.isEmpty)
        let legacy = try RsyslogConfigParser.parse(
            text: "$ModLoad imklog.so\n$KLogParseKernelTimestamp on\n$KLogKeepKernelTimestamp on\n$KLogConsoleLogLevel 1")
        var kept = KernelLogSettings()
        kept.parseKernelTimestamp = true
        kept.keepKernelTimestamp = true
        kept.consoleLogLevel = 1
        #expect(legacy.inputs == [.kernelLog(kept)] && legacy.errors.isEmpty)
        // rsyslogd refuses imklog's legacy directives after module(load="imklog"), with or without parameters.
        let mixed = try RsyslogConfigParser.parse(text: "module(load=\"imklog\")\n$KLogPermitNonKernelFacility on")
        #expect(mixed.errors.map(\.location.line) == [2])
        #expect(mixed.errors.first?.message.contains("currently not permitted") == true)
        // Without the module, its directives are unknown.
        #expect(try RsyslogConfigParser.parse(text: "$KLogPath /dev/x").errors.count == 1)
    }

    @Test func immarkAndItsPeriod() throws {
        let legacy = try RsyslogConfigParser.parse(text: "$ModLoad immark\n$MarkMessagePeriod 600")
        var m = MarkSettings()
        m.interval = 600
        #expect(legacy.inputs == [.mark(m)])
        let modern = try RsyslogConfigParser.parse(
            text: #"module(load="immark" interval="30" markMessageText="-- still here --" use.syslogCall="off")"#)
        m.interval = 30
        m.text = "-- still here --"
        m.useSyslogCall = false
        #expect(modern.inputs == [.mark(m)])
        #expect(throws: ConfigDiagnostic.self) { try RsyslogConfigParser.parse(text: #"module(load="immark" interval="0")"#) }
    }

    @Test func imjournalAsRHELWritesIt() throws {
        let rhel = try RsyslogConfigParser.parse(
            text: """
                $ModLoad imuxsock
                $ModLoad imjournal
                $OmitLocalLogging on
                $IMJournalStateFile imjournal.state
                $imjournalRatelimitInterval 0
                """)
        var j = JournalInputSettings()
        j.stateFile = "imjournal.state"
        #expect(rhel.inputs == [.journal(j)], "no /dev/log: the journal is the local input")
        #expect(rhel.errors.isEmpty && rhel.warnings.count == 1)
        let modern = try RsyslogConfigParser.parse(
            text: #"module(load="imjournal" StateFile="/var/lib/s" IgnorePreviousMessages="on" DefaultFacility="local1" DefaultSeverity="info" UsePID="system" Ratelimit.Burst="5000")"#)
        j.stateFile = "/var/lib/s"
        j.ignorePreviousMessages = true
        j.defaultFacility = 17
        j.defaultSeverity = 6
        j.usePID = "system"
        #expect(modern.inputs == [.journal(j)] && modern.errors.isEmpty)
        let typo = try RsyslogConfigParser.parse(text: #"module(load="imjournal" RateLimit.Intervall="600")"#)
        #expect(typo.errors.first?.message.contains("not known -- typo in config file?") == true)
    }

    @Test func portArraysListenOnEachPort() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                module(load="imudp")
                input(type="imudp" port=["514", "1514"] ruleset="r")
                module(load="imtcp")
                input(type="imtcp" port=["10514", "20514"])
                ruleset(name="r") {
                    *.* /var/log/r.log
                }
                $MaxOpenFiles 4096
                """)
        #expect(
            c.inputs == [
                .udp(address: nil, port: 514, ruleset: "r"), .udp(address: nil, port: 1514, ruleset: "r"),
                .tcp(address: nil, port: 10514, maxSessions: 200), .tcp(address: nil, port: 20514, maxSessions: 200),
            ])
        #expect(c.maxOpenFiles == 4096 && c.errors.isEmpty)
    }

    @Test func imptcpListensAsImtcp() throws {
        let c = try RsyslogConfigParser.parse(
            text: "module(load=\"imptcp\")\ninput(type=\"imptcp\" port=\"10514\" address=\"127.0.0.1\")")
        #expect(c.inputs == [.tcp(address: "127.0.0.1", port: 10514, maxSessions: 200)] && c.errors.isEmpty)
    }
}

/// imfile's read modes, as rsyslog 8.2302's stream reader joins lines.
@Suite("imfile's lines and multi-line messages")
struct FileMessageAssemblerTests {
    func feed(_ chunks: [String], _ configure: (inout FileInputSettings) -> Void = { _ in }) -> [String] {
        var settings = FileInputSettings()
        configure(&settings)
        var assembler = FileMessageAssembler(settings: settings)
        return chunks.flatMap { assembler.feed(Array($0.utf8)[...]) }.map { String(decoding: $0.text, as: UTF8.self) }
    }

    @Test func eachMessageKnowsWhereItStarts() {
        var assembler = FileMessageAssembler(settings: FileInputSettings())
        let first = assembler.feed(Array("ab\ncd".utf8)[...])
        let second = assembler.feed(Array("e\n\nf\n".utf8)[...])
        #expect(first.map(\.offset) == [0] && second.map(\.offset) == [3, 8])
        #expect(assembler.position == 10)
        var paragraphs = FileInputSettings()
        paragraphs.readMode = 1
        var p = FileMessageAssembler(settings: paragraphs, offset: 100, partialLine: Array("x".utf8), pendingMessage: nil)
        #expect(p.feed(Array("y\nz\n\n".utf8)[...]).map(\.offset) == [99])
    }

    @Test func linesSkipEmptyOnesKeepCRAndWaitForTheirLF() {
        #expect(feed(["a\n\nb\r\nc", "d\n", "e"]) == ["a", "b\r", "cd"])
    }

    @Test func paragraphsIndentedLinesAndRegexes() {
        #expect(feed(["p1\np2\n\nq\n\n"]) { $0.readMode = 1 } == ["p1#012p2", "q"])
        #expect(feed(["top\n  a\n\tb\nnext\n"]) { $0.readMode = 2 } == ["top#012  a#012\tb"])
        #expect(
            feed(["2026 one\n at x\n2026 two\n"]) { $0.startRegex = "^[0-9]{4}" } == ["2026 one\\n at x"])
        #expect(feed(["a\nb END\nc\n"]) { $0.endRegex = "END$" } == ["a\\nb END"])
        #expect(
            feed(["2026 one\n at x\n2026 two\n"]) {
                $0.startRegex = "^[0-9]{4}"
                $0.escapeLF = false
            } == ["2026 one\n at x"])
    }

    @Test func overLongLinesAndTheirOptions() {
        var s = FileInputSettings()
        #expect(FileMessageAssembler.pieces(Array("abcdefg".utf8), settings: s, maxSize: 3).count == 3)
        s.discardTruncatedMsg = true
        #expect(FileMessageAssembler.pieces(Array("abcdefg".utf8), settings: s, maxSize: 3) == [Array("abc".utf8)])
        s.trimLineOverBytes = 2
        s.addCeeTag = true
        #expect(FileMessageAssembler.pieces(Array("abcdefg".utf8), settings: s, maxSize: 100) == [Array("@cee:ab".utf8)])
    }

    @Test func legacyMonitorsAndTheirDefaults() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                $WorkDirectory /var/spool/rsyslog
                $ModLoad imfile
                $InputFileName /var/log/app.log
                $InputFileTag app:
                $InputFileStateFile stat-app
                $InputFileSeverity info
                $InputFileFacility local5
                $InputRunFileMonitor
                $InputFileName /var/log/b.log
                $InputFileTag b:
                $InputRunFileMonitor
                """)
        var a = FileInputSettings.legacy
        a.file = "/var/log/app.log"
        a.tag = "app:"
        a.severity = 6
        a.facility = 21
        a.pollingInterval = 1
        var b = FileInputSettings.legacy
        b.file = "/var/log/b.log"
        b.tag = "b:"
        b.pollingInterval = 1
        #expect(c.inputs == [.file(a), .file(b)], "settings reset after each monitor, as rsyslogd")
        #expect(c.errors.isEmpty)
        #expect(throws: ConfigDiagnostic.self) {
            try RsyslogConfigParser.parse(text: "module(load=\"imfile\")\ninput(type=\"imfile\" File=\"/x\")")
        }
        // Without a work directory or statefile.directory, rsyslogd's error (its state files would go to `/`).
        let unplaced = try RsyslogConfigParser.parse(text: "$ModLoad imfile\n$InputFileName /var/log/a\n$InputFileTag a:\n$InputRunFileMonitor\n*.* /var/log/all\n")
        #expect(unplaced.errors.map(\.message).contains { $0.hasPrefix("imfile: no working or state file directory set") })
        let placed = try RsyslogConfigParser.parse(
            text: "module(load=\"imfile\" statefile.directory=\"/var/spool/rsyslog\")\n"
                + "input(type=\"imfile\" File=\"/var/log/a\" Tag=\"a:\")\n*.* /var/log/all\n")
        #expect(placed.errors.isEmpty, "\(placed.errors)")
    }
}
