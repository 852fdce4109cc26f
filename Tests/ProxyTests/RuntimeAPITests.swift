import Testing

@testable import Proxy

/// The runtime API's parts that need no socket: how a line is cut, what HAProxy answers to words it does not know,
/// how `stats socket` is read, a server's administrative state (HAProxy 2.6's transitions and lines), and the
/// commands run on a proxy's state as HAProxy answers them.
@Suite("Runtime API")
struct RuntimeAPITests {
    @Test(
        "a line is cut into commands and words as HAProxy's CLI cuts it",
        arguments: [
            ("show info", [["show", "info"]]),
            ("  show\tinfo  ", [["show", "info"]]),
            ("show cli level;show cli level", [["show", "cli", "level"], ["show", "cli", "level"]]),
            ("set server be/s1 state\\;maint", [["set", "server", "be/s1", "state;maint"]]),
            ("a\\ b c\\\\", [["a b", "c\\"]]),
            ("", [[]]),
            ("x;;y", [["x"], [], ["y"]]),
            ("show info\r", [["show", "info"]]),
        ])
    func commandLines(line: String, expected: [[String]]) {
        #expect(CLICommandLine.commands(line) == expected)
    }

    @Test func atMost64WordsACommand() {
        let line = (1...70).map(String.init).joined(separator: " ")
        #expect(CLICommandLine.commands(line).first?.count == 64)
    }

    @Test func unknownCommandsAnswerAsHAProxy() {
        // HAProxy 2.6.12's own answer to `show sta` (its closest command is one this build has too).
        #expect(
            CLIKeywords.usage(["show", "sta"])
                == """
                Unknown command, but maybe one of the following ones is a better match:
                  show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server
                  help [<command>]                        : list matching or all commands
                  prompt                                  : toggle interactive mode with prompt
                  quit                                    : disconnect

                """)
        let empty = CLIKeywords.usage([])
        #expect(empty.hasPrefix("Unknown command. Please enter one of the following commands only:\n"))
        let help = CLIKeywords.usage(["help", "show"])
        #expect(help.hasPrefix("The following commands are valid at this level:\n  show backend "))
        #expect(!help.contains("  set "))
        // The whole list is sorted by usage line, help/prompt/quit last.
        let all = CLIKeywords.usage(["help"]).split(separator: "\n").dropFirst().dropLast(3).map(String.init)
        #expect(all == all.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(all.count == CLIKeywords.all.count - 3)
    }

    @Test func fingerprintDistance() {
        var a = CLIKeywords.Fingerprint()
        a.add("stat")
        var b = CLIKeywords.Fingerprint()
        b.add("stat")
        #expect(a.distance(to: b) == 0)
        var c = CLIKeywords.Fingerprint()
        c.add("sta")
        // "sta" has no a→t transition, and ends after a rather than after t.
        #expect(a.distance(to: c) == 3)
    }

    // MARK: stats socket

    static func parse(_ global: String) throws(ConfigProblems) -> ProxyConfiguration {
        try HAProxyConfigParser.parse(
            text: "global\n    \(global)\ndefaults\n    mode tcp\nlisten l\n    bind :80\n    server s 127.0.0.1:1\n")
    }

    @Test func statsSocketLines() throws {
        var c = try Self.parse("stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners")
        var socket = try #require(c.global.statsSockets.first)
        #expect(socket.address == .unix("/run/haproxy/admin.sock"))
        #expect(socket.mode == 0o660)
        #expect(socket.level == .admin)
        #expect(socket.exposeListeners)
        c = try Self.parse("stats socket ipv4@127.0.0.1:9999 level user")
        socket = try #require(c.global.statsSockets.first)
        #expect(socket.address == .tcp(host: "127.0.0.1", port: 9999))
        #expect(socket.level == .user)
        // HAProxy's default level is operator.
        c = try Self.parse("stats socket 127.0.0.1:9999")
        #expect(c.global.statsSockets.first?.level == .operator)
        c = try Self.parse("stats timeout 2m")
        #expect(c.global.statsTimeout == .milliseconds(120_000))
        c = try Self.parse("stats maxconn 3")
        #expect(c.global.statsMaxconn == 3)
    }

    @Test(
        "a wrong stats line is refused with HAProxy's words",
        arguments: [
            ("stats socket", "'stats socket' in global section expects an address or a path to a UNIX socket"),
            (
                "stats socket /x.sock level foo",
                "'stats socket' : ''level' only supports 'user', 'operator', and 'admin' (got 'foo')'"
            ),
            (
                "stats socket /x.sock mode", "'stats socket' : ''mode' : missing or invalid mode '' (octal integer expected)'"
            ),
            ("stats socket /x.sock bogus 1", "'stats socket' : unknown keyword 'bogus'."),
            ("stats socket /x.sock expose-fd all", "'stats socket' : ''expose-fd' only supports 'listeners' (got 'all')'"),
            ("stats socket /x.sock ssl crt x.pem", "'stats socket' : 'ssl' is not carried out on the runtime API socket"),
            ("stats timeout 5x", "'stats timeout' : unexpected character 'x'"),
            ("stats maxconn 0", "'stats maxconn' expects a positive value"),
            ("stats socket /x.sock user no-such-user-here", "'stats socket' : ''user' : unknown user name 'no-such-user-here''"),
            ("stats bogus", "'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got 'bogus')"),
        ])
    func wrongStatsLines(line: String, message: String) {
        do {
            _ = try Self.parse(line)
            Issue.record("accepted: \(line)")
        } catch {
            #expect(error.alerts.contains { $0.description.contains(message) }, "\(error.alerts)")
            #expect(error.alerts.first?.description.contains("haproxy.cfg:2") == true)
        }
    }

    @Test func onMarkedDownIsReadInBothModesAndAWrongWordRefused() throws {
        for mode in ["tcp", "http"] {
            let parsed = try HAProxyConfigParser.parse(
                text: "defaults\n    mode \(mode)\nlisten l\n    bind :80\n    server s 127.0.0.1:1 check on-marked-down shutdown-sessions\n")
            #expect(parsed.proxies.first?.servers.first?.shutdownSessionsOnDown == true)
        }
        for (text, message) in [
            (
                "defaults\n    mode tcp\nlisten l\n    bind :80\n    server s 127.0.0.1:1 on-marked-down nothing\n",
                "'on-marked-down' expects 'shutdown-sessions' but got 'nothing'"
            ),
        ] {
            #expect(throws: ConfigProblems.self) { try HAProxyConfigParser.parse(text: text) }
            do {
                _ = try HAProxyConfigParser.parse(text: text)
            } catch {
                #expect(error.alerts.contains { $0.message.contains(message) }, "\(error.alerts)")
            }
        }
    }

    // MARK: a server's administrative state

    /// HAProxy 2.6.12's lines for `set server be/s2 state …` on a checked server that was DOWN, then UP.
    @Test func adminTransitionsAsHAProxy() {
        var a = ServerAdmin(disabled: false)
        #expect(a.apply(.maint, up: false, serving: false) == [.downEntersMaintenance])
        #expect(a.flags == 0x01)
        #expect(a.apply(.ready, up: true, serving: false) == [.leavesMaintenance(intoDrain: false)])
        #expect(a.apply(.drain, up: true, serving: true) == [.entersDrain])
        #expect(a.flags == 0x08)
        #expect(a.apply(.drain, up: true, serving: false) == [])
        #expect(a.apply(.maint, up: true, serving: false) == [.goingDownForMaintenance(wasServing: false)])
        #expect(!a.drain)
        #expect(a.apply(.drain, up: true, serving: false) == [.leavesMaintenance(intoDrain: true), .remainsInDrain])
        #expect(a.apply(.ready, up: true, serving: false) == [.leavesDrain])
        #expect(a.flags == 0)
        #expect(a.apply(.ready, up: true, serving: true) == [])
        #expect(a.apply(.maint, up: true, serving: true) == [.goingDownForMaintenance(wasServing: true)])
        // `disabled` in the configuration: maintenance, and CMAINT kept after `ready`, as 2.6 shows it.
        var d = ServerAdmin(disabled: true)
        #expect(d.flags == 0x05)
        #expect(d.apply(.ready, up: true, serving: false) == [.leavesMaintenance(intoDrain: false)])
        #expect(d.flags == 0x04)
    }

    /// The resolvers' verdicts (RMAINT): a line when the server was UP or DOWN, none while an operator already keeps it
    /// in maintenance; with an address again, "resolves again" (or "but remains in maintenance").
    @Test func resolutionTransitionsAsHAProxy() {
        var a = ServerAdmin(disabled: false)
        #expect(a.setResolution(lost: true, up: true, serving: true) == [.goingDownForMaintenance(wasServing: true)])
        #expect(a.maintenance && a.flags == 0x20)
        #expect(a.setResolution(lost: true, up: true, serving: false) == [])
        #expect(a.setResolution(lost: false, up: true, serving: false) == [.resolvesAgain(up: true, drain: false)])
        #expect(a.setResolution(lost: true, up: false, serving: false) == [.downEntersMaintenance])
        _ = a.setResolution(lost: false, up: false, serving: false)
        _ = a.apply(.maint, up: true, serving: true)
        #expect(a.setResolution(lost: true, up: true, serving: false) == [])
        #expect(a.flags == 0x21)
        #expect(a.setResolution(lost: false, up: true, serving: false) == [.resolvesAgainButRemainsInMaintenance])
        // Started without an address (`init-addr none`): in maintenance, silent until an address comes.
        var b = ServerAdmin(disabled: false, noAddress: true)
        #expect(b.flags == 0x20 && b.setResolution(lost: true, up: true, serving: false) == [])
        b.fromSRVRecord = true
        #expect(b.flags == 0x60)
    }

    @Test func balancerLeavesOutDrainedAndMaintainedServers() {
        var b = Balancer(
            algorithm: .roundrobin, servers: [.init(name: "a", weight: 1), .init(name: "b", weight: 1)])
        _ = b.setAdmin(0, .drain)
        #expect((0..<4).map { _ in b.pick() } == [1, 1, 1, 1])
        #expect(b.upCounts.active == 1)
        _ = b.setAdmin(0, .ready)
        _ = b.setAdmin(1, .maint)
        #expect((0..<3).map { _ in b.pick() } == [0, 0, 0])
        _ = b.setAdmin(1, .ready)
        b.setWeight(0, 0)
        #expect((0..<3).map { _ in b.pick() } == [1, 1, 1])
        b.setWeight(0, 300)
        #expect(b.servers[0].weight == 256)
    }

    // MARK: commands on a proxy's state

    static func api(_ extra: String = "") throws -> RuntimeAPI {
        let c = try HAProxyConfigParser.parse(
            text: """
                global
                    stats socket /tmp/never-bound.sock level admin
                defaults
                    mode tcp
                frontend fe
                    bind :80
                    default_backend be
                backend be
                    server s1 127.0.0.1:1 weight 10
                    server s2 127.0.0.1:2 check
                backend st
                    balance static-rr
                    server x 127.0.0.1:3
                \(extra)
                """)
        return RuntimeAPI(state: try ProxyState(c), frontends: [], backendLogs: [:])
    }

    static func run(_ api: RuntimeAPI, _ line: String, level: RuntimeLevel = .admin) -> String {
        var session = CLISession(level: level, timeout: .seconds(10), peer: "uid=0 pid=1", socket: "test")
        return CLICommandLine.commands(line).map { api.execute($0, &session).text }.joined(separator: "|")
    }

    /// Answers HAProxy 2.6.12 gives to the same commands on the same configuration.
    @Test(
        "commands answer as HAProxy",
        arguments: [
            ("disable server be/nope", "No such server.\n"),
            ("disable server nope/s1", "No such backend.\n"),
            ("disable server be", "Require 'backend/server'.\n"),
            ("disable server", "Require 'backend/server'.\n"),
            ("set server be/s1 state foo", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"),
            ("set server be/s1 weight 300", "Absolute weight can only be between 0 and 256 inclusive.\n"),
            ("set server be/s1 weight abc", "Empty weight string empty or preceded by garbage"),
            ("set server be/s1 weight 7x", "Trailing garbage in weight string"),
            ("set server be/s1 weight 5;get weight be/s1", "|5 (initial 10)\n"),
            ("set weight be/s1 50%;get weight be/s1", "|5 (initial 10)\n"),
            ("set weight be/s1 1000%;get weight be/s1", "|100 (initial 10)\n"),
            ("set weight be/s1 -5%", "Relative weight must be positive.\n"),
            (
                "set weight st/x 2",
                "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
            ),
            ("set maxconn server be/s1 x", "maxconn string empty or preceded by garbage"),
            ("set maxconn server be/s1", "Require <maxconn>.\n"),
            ("set maxconn frontend nope 1", "No such frontend.\n"),
            ("set maxconn frontend", "A frontend name is expected.\n"),
            ("enable health be/s1", "Health check was not configured on this server, cannot enable.\n"),
            ("enable agent be/s2", "Agent was not configured on this server, cannot enable.\n"),
            ("disable health be/s2;enable health be/s2", "|"),
            ("show servers state nope", "Can't find backend.\n"),
            ("show backend", "# name\nbe\nst\n"),
            ("set timeout cli 0", "Invalid timeout value.\n"),
            ("set timeout foo 1", "'set timeout' only supports 'cli'.\n"),
            ("set timeout cli", "Expects an integer value.\n"),
            ("operator;show cli level;user;show cli level", "|operator\n||user\n"),
        ])
    func answers(line: String, expected: String) throws {
        #expect(Self.run(try Self.api(), line) == expected)
    }

    @Test func levels() throws {
        let api = try Self.api()
        #expect(Self.run(api, "disable server be/s1", level: .operator) == "Permission denied\n")
        #expect(Self.run(api, "clear counters", level: .user) == "Permission denied\n")
        #expect(Self.run(api, "clear counters", level: .operator) == "")
        #expect(Self.run(api, "clear counters all", level: .operator) == "Permission denied\n")
        #expect(Self.run(api, "operator", level: .user) == "Permission denied\n")
        #expect(Self.run(api, "show cli level", level: .user) == "user\n")
        #expect(Self.run(api, "show servers state be", level: .user).hasPrefix("1\n# be_id "))
    }

    @Test func serversStateFollowsTheAdminState() throws {
        let api = try Self.api()
        _ = Self.run(api, "set server be/s1 state maint;set weight be/s1 4")
        let lines = Self.run(api, "show servers state be").split(separator: "\n")
        #expect(lines.count == 4)
        let s1 = lines[2].split(separator: " ").map(String.init)
        // be_id 3 (the stats socket's proxy is 1, fe 2), op_state 0 (stopped), admin FMAINT, weights 4 and 10.
        #expect(Array(s1[0..<9]) == ["3", "be", "1", "s1", "127.0.0.1", "0", "1", "4", "10"])
        #expect(s1.count == 25)
        let s2 = lines[3].split(separator: " ").map(String.init)
        // Checked, never checked yet: HCHK_STATUS_INI, result unknown, health at rise, CONFIGURED|ENABLED.
        #expect(Array(s2[10..<14]) == ["1", "0", "2", "6"])
        _ = Self.run(api, "set server be/s1 state drain")
        let drained = Self.run(api, "show servers state be").split(separator: "\n")[2].split(separator: " ")
        #expect(drained[5] == "2" && drained[6] == "8")
        let stat = Self.run(api, "show stat")
        #expect(stat.contains("\nbe,s1,") && stat.contains(",DRAIN,"))
        #expect(Self.run(api, "show stat be 4 1").split(separator: "\n").count == 2)
        #expect(Self.run(api, "show stat nope 4 1") == "No such proxy.\n")
    }

    @Test func typedAndJSONForms() throws {
        let api = try Self.api()
        let typed = Self.run(api, "show stat typed").split(separator: "\n")
        #expect(typed.first == "F.2.0.0.pxname.1:KNS:str:fe")
        #expect(typed.contains("S.3.1.18.weight.1:MaP:u32:10"))
        let info = Self.run(api, "show info typed").split(separator: "\n")
        #expect(info.first == "0.Name.1:POS:str:Tollgate")
        let json = Self.run(api, "show info json")
        #expect(json.hasPrefix("[{\"field\":{\"pos\":0,\"name\":\"Name\"},\"processNum\":1,"))
        // hatop reads these fields and stops without any of them.
        let plain = Self.run(api, "show info")
        for field in [
            "Name", "Version", "Release_date", "Nbproc", "Process_num", "Pid", "Uptime", "Maxconn", "CurrConns",
            "Maxpipes", "PipesUsed", "Tasks", "Run_queue", "node",
        ] {
            #expect(plain.contains("\n\(field): ") || plain.hasPrefix("\(field): "), "\(field)")
        }
    }
}

/// The server-state file a reload reads (`server-state-file`, `load-server-state-from-file`), as HAProxy 2.6 reads
/// and applies it.
@Suite("Server-state file")
struct ServerStateFileTests {
    static let header =
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        + "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
        + "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
        + "srv_check_addr srv_agent_addr srv_agent_port\n"

    @Test func readsHAProxysOwnOutput() throws {
        // HAProxy 2.6.12's `show servers state` after maint, drain, a weight and `disable health`.
        let text =
            Self.header + """
                3 be 1 s1 127.0.0.1 0 1 10 10 0 1 0 0 0 0 0 0 - 19991 - 0 0 - - 0
                3 be 2 s2 127.0.0.1 2 8 10 10 0 1 0 2 0 0 0 0 - 19992 - 0 0 - - 0
                3 be 3 s3 127.0.0.1 0 0 1 1 1 8 2 0 2 0 0 0 - 19993 - 0 0 - - 0
                3 be 4 s4 127.0.0.1 2 0 3 1 1 1 0 2 0 0 0 0 - 19994 - 0 0 - - 0

                """
        let lines = try ServerStateFile.parse(text).get()
        #expect(lines.map(\.serverName) == ["s1", "s2", "s3", "s4"])
        #expect(lines[0].adminState == 1 && lines[0].operationalState == 0)
        #expect(lines[3].userWeight == 3 && lines[3].initialWeight == 1)
        #expect(lines[2].checkStatus == 8 && lines[2].checkState == 2)
    }

    @Test func refusesWhatHAProxyRefuses() {
        #expect(ServerStateFile.parse("") == .failure(.noVersion))
        #expect(ServerStateFile.parse("2\n") == .failure(.noVersion))
        #expect(ServerStateFile.parse("1\n3 be 1 s1 127.0.0.1 0 1\n") == .failure(.corrupted(line: 2)))
        // A last line without its line feed is a truncated one.
        let truncated = Self.header + "3 be 1 s1 127.0.0.1 0 1 10 10 0 1 0 0 0 0 0 0 - 19991 - 0 0 - - 0"
        #expect(ServerStateFile.parse(truncated) == .failure(.corrupted(line: 3)))
        #expect((try? ServerStateFile.parse("1\n# nothing else\n\n").get()) == [])
        #expect(ServerStateFile.path("state", base: "/var/lib/haproxy") == "/var/lib/haproxy/state")
        #expect(ServerStateFile.path("/abs", base: "/var/lib/haproxy") == "/abs")
        #expect(ServerStateFile.path("rel", base: nil) == "rel")
    }

    @Test func adminFlagsAsHAProxyRestoresThem() {
        // Forced maintenance and drain hold.
        var a = ServerAdmin(disabled: false)
        a.restore(flags: 0x01, savedInitialWeight: 10, initialWeight: 10)
        #expect(a.maintenance && !a.drain)
        a = ServerAdmin(disabled: false)
        a.restore(flags: 0x08, savedInitialWeight: 10, initialWeight: 10)
        #expect(!a.maintenance && a.drain)
        // A drain that came from a configured weight of 0, now positive, is dropped.
        a = ServerAdmin(disabled: false)
        a.restore(flags: 0x08, savedInitialWeight: 0, initialWeight: 5)
        #expect(!a.drain)
        // The configuration's `disabled` changed: the configuration wins.
        var d = ServerAdmin(disabled: true)
        d.restore(flags: 0x00, savedInitialWeight: 1, initialWeight: 1)
        #expect(d.maintenance)
        a = ServerAdmin(disabled: false)
        a.restore(flags: 0x05, savedInitialWeight: 1, initialWeight: 1)
        #expect(!a.maintenance)
        // `disabled` in both, and the operator had set it ready: ready it stays.
        d = ServerAdmin(disabled: true)
        d.restore(flags: 0x04, savedInitialWeight: 1, initialWeight: 1)
        #expect(!d.maintenance)
    }

    @Test func healthAsHAProxyRestoresIt() {
        var h = HealthState(rise: 2, fall: 3, inter: .milliseconds(1000))
        h.restore(operationalState: 0, health: 4)
        #expect(!h.isUp && h.health == 0)
        h.restore(operationalState: 1, health: 0)
        #expect(!h.isUp && h.health == 1)
        h.restore(operationalState: 2, health: 0)
        #expect(h.isUp && h.health == 4)
        h.restore(operationalState: 3, health: 9)
        #expect(h.isUp && h.health == 2)
    }

    @Test(
        "state-file keywords are read with HAProxy's words",
        arguments: [
            ("global:server-state-file", "'server-state-file' expect one argument: a file path."),
            ("global:server-state-base", "'server-state-base' expects one argument: a directory path."),
            (
                "backend:load-server-state-from-file foo",
                "'load-server-state-from-file' expects 'global', 'local' or 'none'. Got 'foo'"
            ),
            ("backend:server-state-file-name a b", "'server-state-file-name' cannot handle unexpected argument 'b'."),
        ])
    func wrongKeywords(line: String, message: String) {
        let (section, text) = (line.prefix { $0 != ":" }, line.drop { $0 != ":" }.dropFirst())
        let config =
            (section == "global" ? "global\n    \(text)\n" : "")
            + "defaults\n    mode tcp\nlisten l\n    bind :80\n    server s 127.0.0.1:1\n"
            + (section == "backend" ? "backend b\n    \(text)\n    server s 127.0.0.1:1\n" : "")
        do {
            _ = try HAProxyConfigParser.parse(text: config)
            Issue.record("accepted: \(line)")
        } catch {
            #expect(error.alerts.first?.message == message, "\(error.alerts)")
        }
    }

    @Test func aMissingFileIsAWarningAsInHAProxy() throws {
        let c = try HAProxyConfigParser.parse(
            text: """
                global
                    server-state-base /nonexistent-dir
                    server-state-file state
                defaults
                    mode tcp
                    load-server-state-from-file global
                listen l
                    bind :80
                    server s 127.0.0.1:1
                backend b
                    load-server-state-from-file local
                    server s 127.0.0.1:1

                """)
        let warnings = c.warnings.map(\.message)
        #expect(
            warnings.contains(
                "Can't open global server state file '/nonexistent-dir/state': No such file or directory"))
        #expect(
            warnings.contains("Proxy 'b': Can't open server state file '/nonexistent-dir/b': No such file or directory."))
        #expect(c.serverStates.isEmpty)
    }
}
