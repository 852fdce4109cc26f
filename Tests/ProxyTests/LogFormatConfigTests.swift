import LogCore
import Testing

@testable import Proxy

/// Which format a proxy logs in, as HAProxy 2.6 decides it: the last of `log-format`, `option httplog [clf]` and
/// `option tcplog`, inherited from `defaults`, compiled for the proxy's own mode.
@Suite("log-format in haproxy.cfg")
struct LogFormatConfigTests {
    static let preamble = "global\n  log 127.0.0.1 local0\ndefaults\n  log global\n  mode http\n"

    @Test func theLastFormatWinsAndDefaultsAreInherited() throws {
        let c = try HAProxyConfigParser.parse(
            text: Self.preamble + "  log-format \"%ci %r\"\n"
                + "frontend a\n  bind :80\nfrontend b\n  bind :81\n  option httplog\n"
                + "frontend c\n  bind :82\n  option httplog\n  log-format \"%ci %ST\"\n")
        let formats = c.proxies.map { $0.settings.customLogFormat == nil ? nil : $0.settings.logFormat?.text }
        #expect(formats == ["%ci %r", nil, "%ci %ST"])
        #expect(c.proxies[1].settings.option(.httplog))
    }

    @Test func aTCPProxyInheritingHTTPVariablesIsRefusedWhereTheFormatWasWritten() {
        do {
            _ = try HAProxyConfigParser.parse(
                text: Self.preamble + "  log-format \"%ci %HU\"\nlisten t\n  mode tcp\n  bind :80\n")
            Issue.record("accepted")
        } catch {
            let alert = error.alerts.first
            #expect(alert?.location.line == 6, "\(error)")
            #expect(alert?.message == "failed to parse log-format : format variable 'HU' is reserved for HTTP mode.")
        }
    }

    @Test func warnedAsHAProxyWarns() throws {
        let c = try HAProxyConfigParser.parse(
            text: Self.preamble + "  option httplog\n  log-format \"%ci\"\n"
                + "frontend f\n  bind :80\n  default_backend b\nbackend b\n  log-format \"%ci\"\n")
        let warnings = c.warnings.map(\.message)
        #expect(warnings.contains("'log-format' overrides previous 'option httplog' in 'defaults' section."), "\(warnings)")
        #expect(warnings.contains("'log-format' directive is ignored in backends."), "\(warnings)")
        #expect(c.proxies.first { $0.name == "b" }?.settings.customLogFormat == nil)
        #expect(c.proxies.first { $0.name == "f" }?.settings.customLogFormat != nil)
    }
}
