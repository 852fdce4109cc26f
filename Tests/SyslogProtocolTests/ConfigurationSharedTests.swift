import LogCore
import Testing

/// What the proxy and the sink read alike: addresses, the `--root` mapping and their messages' wording.
@Suite("Configuration pieces shared by the proxy and the sink")
struct ConfigurationSharedTests {
    @Test(
        "host and port as haproxy.cfg and rsyslog.conf write them",
        arguments: [
            ("db1", "db1", nil), ("db1:3306", "db1", 3306), ("10.0.0.1:514", "10.0.0.1", 514),
            ("[::1]:9514", "::1", 9514), ("[fe80::1]", "fe80::1", nil), (":80", nil, 80), ("*:443", nil, 443),
            ("::1:514", "::1", 514), ("localhost:0", "localhost", 0),
        ] as [(String, String?, Int?)])
    func hostAndPort(_ text: String, _ host: String?, _ port: Int?) throws {
        let address = try #require(HostPort(text))
        #expect(address.host == host)
        #expect(address.port == port)
    }

    @Test("malformed addresses are refused", arguments: ["[::1", "[::1]x", "[::1]:", "db:", "db:http", "db:65536", "db:-1"])
    func malformed(_ text: String) {
        #expect(HostPort(text) == nil)
    }

    @Test func aBareNumberIsAPortWhereACommandLineSaysSo() throws {
        #expect(HostPort("9514", bare: .port) == HostPort(":9514"))
        #expect(HostPort("9514")?.host == "9514", "haproxy.cfg's `server s1 9514` names a host")
        #expect(HostPort("metrics", bare: .port) == nil)
    }

    @Test func rootPlacesEveryPathUnderIt() {
        #expect(underRoot("/var/log/haproxy.log", nil) == "/var/log/haproxy.log")
        #expect(underRoot("/var/log/haproxy.log", "/tmp/r") == "/tmp/r/var/log/haproxy.log")
        #expect(underRoot("/var/log/haproxy.log", "/tmp/r/") == "/tmp/r/var/log/haproxy.log")
        #expect(underRoot("haproxy.pid", "/tmp/r") == "/tmp/r/haproxy.pid")
    }

    @Test func eachProgramWordsItsOwnMessages() {
        let at = SourceLocation(file: "haproxy.cfg", line: 7)
        #expect(
            ConfigDiagnostic(severity: .error, location: at, message: "unknown keyword 'x'", wording: .haproxy)
                .description == "[ALERT] parsing [haproxy.cfg:7] : unknown keyword 'x'")
        #expect(
            ConfigDiagnostic(severity: .warning, location: at, message: "m", wording: .haproxy).description
                == "[WARNING] parsing [haproxy.cfg:7] : m")
        #expect(
            ConfigDiagnostic(severity: .error, location: SourceLocation(file: "rsyslog.conf", line: 3), message: "m")
                .description == "rsyslog.conf:3: error: m")
    }
}
