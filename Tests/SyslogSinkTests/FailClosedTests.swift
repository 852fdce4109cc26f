import Foundation
import TestSupport
import Testing

@testable import SyslogSink

/// What the sink cannot honour is an error naming file and line (as rsyslogd's, -N1 fails on it), the object is left
/// out, and the rest of the configuration still loads.
@Suite("rsyslog.conf: what is not honoured is an error")
struct FailClosedTests {
    struct Refused: CustomTestStringConvertible, Sendable {
        var family: String
        var line: String
        var message: String
        var testDescription: String { "\(family): \(line)" }
    }

    static let refused: [Refused] = [
        Refused(
            family: "misspelt input parameter", line: #"input(type="imudp" port="514" adress="127.0.0.1")"#,
            message: "input(): parameter 'adress' not known -- typo in config file? (did you mean 'address'?)"),
        Refused(
            family: "input parameter not honoured", line: #"input(type="imudp" port="514" device="eth0")"#,
            message: "input(type imudp): parameter 'device' is rsyslog's, not in this build: the messages would be "
                + "received, routed or written otherwise than the configuration asks. See docs/not-in-this-build-sink.md."),
        Refused(
            family: "TLS without a TLS driver", line: #"input(type="imtcp" port="6514" StreamDriver.Mode="1")"#,
            message: "imtcp *:6514: driver mode 1 not supported by ptcp netstream driver: the listener is not started"),
        Refused(
            family: "TLS listener without a certificate",
            line: #"input(type="imtcp" port="6514" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")"#,
            message: "imtcp *:6514: a TLS listener needs a certificate and key (DefaultNetstreamDriverCertFile/KeyFile "
                + "or streamDriver.CertFile/KeyFile); anonymous TLS is not in this build: the listener is not started"),
        Refused(
            family: "TLS files that cannot be read", line: "$DefaultNetstreamDriverCAFile /nonexistent/tollgate/ca.pem",
            message: "$DefaultNetstreamDriverCAFile '/nonexistent/tollgate/ca.pem' could not be accessed: TLS cannot "
                + "start without it"),
        Refused(
            family: "TLS asked of a UDP forward", line: #"*.* action(type="omfwd" target="10.0.0.9" StreamDriverMode="1")"#,
            message: "omfwd: StreamDriverMode=\"1\" asks for TLS, which a forward has only with protocol=\"tcp\" (@@): "
                + "over UDP the messages would travel in clear text. The action is left out"),
        Refused(
            family: "TLS authentication mode misspelt",
            line: #"*.* action(type="omfwd" target="10.0.0.9" protocol="tcp" StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/nam")"#,
            message: "omfwd: authentication mode 'x509/nam' not supported by gtls netstream driver (anon, "
                + "x509/certvalid, x509/name or x509/fingerprint): the action is disabled"),
        Refused(
            family: "TLS setting not in this build", line: #"input(type="imtcp" port="6514" gnutlsPriorityString="NORMAL")"#,
            message: "input(type imtcp): parameter 'gnutlsprioritystring' is rsyslog's, not in this build: this TLS "
                + "setting is not in this build (TLS itself is): the connection would not be secured as it asks. See "
                + "docs/not-in-this-build-sink.md."),
        Refused(
            family: "input not read", line: #"module(load="imkmsg")"#,
            message: "module 'imkmsg' is rsyslog's, not in this build: its messages would not be read. See "
                + "docs/not-in-this-build-sink.md."),
        Refused(
            family: "input not read, legacy", line: "$ModLoad imgssapi",
            message: "module 'imgssapi' is rsyslog's, not in this build: its messages would not be read. See "
                + "docs/not-in-this-build-sink.md."),
        Refused(
            family: "output not delivered", line: #"*.* action(type="omelasticsearch" server="127.0.0.1")"#,
            message: "action type 'omelasticsearch' is rsyslog's, not in this build: its messages would not be "
                + "delivered. See docs/not-in-this-build-sink.md."),
        Refused(
            family: "output not delivered", line: #"action(type="omhttp" server="x")"#,
            message: "action type 'omhttp' is rsyslog's, not in this build: its messages would not be delivered. See "
                + "docs/not-in-this-build-sink.md."),
        Refused(
            family: "statement not run", line: "set $/count = 1;",
            message: "global variables ($/…) are not in this build: 'set $/count = 1;' not carried out"),
        Refused(
            family: "socket without imuxsock", line: "$AddUnixListenSocket /var/lib/haproxy/dev/log",
            message: "invalid or yet-unknown config file command '$AddUnixListenSocket' - have you forgotten to load "
                + "a module (imuxsock)? The line is not carried out."),
        Refused(
            family: "unknown directive", line: "$UDPServerRnu 514",
            message: "invalid or yet-unknown config file command '$UDPServerRnu' - have you forgotten to load a "
                + "module? (did you mean '$udpserverrun'?)"),
        Refused(
            family: "missing include", line: "$IncludeConfig /nonexistent/tollgate/extra.conf",
            message: "error accessing config file or directory '/nonexistent/tollgate/extra.conf': No such file or "
                + "directory; what it holds is not read."),
        Refused(
            family: "missing template", line: "*.* /var/log/x.log;NoSuchTemplate",
            message: "Could not find template 'NoSuchTemplate' - action disabled"),
    ]

    @Test("each family is an error on its line, and the rest loads", arguments: refused)
    func refusedFamilies(_ r: Refused) throws {
        let c = try RsyslogConfigParser.parse(
            text: "module(load=\"imudp\")\n\(r.line)\ninput(type=\"imudp\" port=\"514\")\nlocal0.* /var/log/haproxy.log\n",
            name: "t.conf")
        #expect(c.errors.map(\.location.line) == [2], "\(c.errors)")
        #expect(c.errors.first?.message == r.message)
        #expect(c.rules.contains { $0.actions.contains { if case .file(let p, _, _, _, _, _, _) = $0 { p == "/var/log/haproxy.log" } else { false } } })
    }

    /// A rulebase liblognorm cannot load is an error on the action's line, in liblognorm's words (rsyslogd logs the
    /// same words and runs the action with what it could load; the sink leaves the action out).
    @Test func aBrokenRulebaseIsAnErrorInLiblognormsWords() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                module(load="mmnormalize")
                action(type="mmnormalize" rule=["rule=:%x:nosuchparser%"])
                action(type="mmnormalize" ruleBase="/nonexistent/tollgate.rb")
                *.* /var/log/all.log

                """, name: "t.conf")
        #expect(c.errors.map(\.location.line) == [2, 3], "\(c.errors)")
        #expect(c.errors.first?.message.contains("invalid field type 'nosuchparser'") ?? false, "\(c.errors)")
        #expect(c.rules.flatMap(\.actions).allSatisfy { if case .normalize = $0 { false } else { true } })
    }

    /// omrelp's `rebindInterval` is not carried out: refused (the action left out) unless 0; `conn.timeout` is read.
    @Test func omrelpsRebindIntervalIsRefusedAndItsConnectTimeoutRead() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                module(load="omrelp")
                *.* action(type="omrelp" target="10.0.0.9" port="2514" rebindInterval="10000")
                *.* action(type="omrelp" target="10.0.0.9" port="2514" rebindInterval="0" conn.timeout="3")

                """, name: "t.conf")
        #expect(c.errors.map(\.location.line) == [2], "\(c.errors)")
        #expect(c.errors.first?.message.contains("rebindInterval=\"10000\"") ?? false, "\(c.errors)")
        let relp = c.rules.flatMap(\.actions).compactMap { action -> Int? in
            if case .relpForward(_, _, _, _, _, _, _, let connectTimeout) = action { return connectTimeout }
            return nil
        }
        #expect(relp == [3])
    }

    @Test func anInputWithAParameterItCannotHonourDoesNotListenAtAll() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                module(load="imudp")
                input(type="imudp" port="514" adress="127.0.0.1")
                input(type="imudp" address="127.0.0.1" port="5514")
                """)
        #expect(c.inputs == [.udp(address: "127.0.0.1", port: 5514, ruleset: nil, receiveBuffer: nil)])
    }

    @Test func cosmeticPartsStayWarnings() throws {
        let c = try RsyslogConfigParser.parse(
            text: """
                $SystemLogRateLimitInterval 0
                $MainMsgQueueSize 100000
                module(load="imudp" threads="2")
                input(type="imudp" port="514" name="udp514")
                *.emerg :omusrmsg:*
                local0.* action(type="omfile" file="/var/log/haproxy.log" flushInterval="1" name="haproxy")
                """, name: "c.conf")
        #expect(c.errors.isEmpty, "\(c.errors)")
        #expect(c.warnings.map(\.location.line) == [1, 2, 3, 6, 6], "\(c.warnings) (an input's name= is its inputname now)")
        #expect(c.rules.contains { $0.actions == [.userMessage(users: nil, template: " WallFmt")] }, "omusrmsg is carried out")
        #expect(c.warnings.first?.message.contains("this build keeps every message") == true)
    }

    /// The syslog-sink binary: -N1 exits 1 on an error, as rsyslogd -N1 does; abortOnUncleanConfig refuses to start.
    @Test func theCheckFailsOnErrors() throws {
        let dir = try TemporaryDirectory(prefix: "sink-n1")
        try "module(load=\"imudp\")\ninput(type=\"imudp\" port=\"514\" adress=\"x\")\n*.* /var/log/x\n"
            .write(toFile: dir.file("bad.conf"), atomically: true, encoding: .utf8)
        let sink = try Products.path("syslog-sink")
        let run = try Peers.run(sink, ["-N1", "-f", dir.file("bad.conf")])
        let said = String(decoding: run.stderr, as: UTF8.self)
        #expect(run.status == 1, "\(said)")
        #expect(said.contains("bad.conf:2: error: input(): parameter 'adress' not known"), "\(said)")
        try "global(abortOnUncleanConfig=\"on\")\n$ModLoad imgssapi\n*.* /var/log/x\n"
            .write(toFile: dir.file("abort.conf"), atomically: true, encoding: .utf8)
        let abort = try Peers.run(sink, ["-n", "-f", dir.file("abort.conf"), "--root", dir.file("root")], timeout: 20)
        #expect(abort.status == 1)
        #expect(String(decoding: abort.stderr, as: UTF8.self).contains("abortOnUncleanConfig is set: not starting"))
        // The legacy spelling does the same.
        try "$AbortOnUncleanConfig on\n$ModLoad imgssapi\n*.* /var/log/x\n"
            .write(toFile: dir.file("legacy.conf"), atomically: true, encoding: .utf8)
        let legacy = try Peers.run(sink, ["-n", "-f", dir.file("legacy.conf"), "--root", dir.file("root")], timeout: 20)
        #expect(legacy.status == 1)
        #expect(String(decoding: legacy.stderr, as: UTF8.self).contains("abortOnUncleanConfig is set: not starting"))
    }
}

@Suite("docs/not-in-this-build-sink.md")
struct NotInThisBuildSinkPageTests {
    /// The checked-in page is the one the code renders; `TOLLGATE_WRITE_DOCS=1` (`make docs`) writes it.
    @Test func thePageIsTheOneTheCodeRenders() throws {
        let path = Products.packageRoot + "/docs/not-in-this-build-sink.md"
        if ProcessInfo.processInfo.environment["TOLLGATE_WRITE_DOCS"] == "1" {
            try SinkSupport.markdown().write(toFile: path, atomically: true, encoding: .utf8)
        }
        let checkedIn = try String(contentsOfFile: path, encoding: .utf8)
        #expect(checkedIn == SinkSupport.markdown(), "run `make docs` and commit docs/not-in-this-build-sink.md")
    }
}
