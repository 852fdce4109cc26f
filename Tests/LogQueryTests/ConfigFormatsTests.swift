import HAProxyLog
import Testing

@testable import LogQuery

/// `logquery --config haproxy.cfg`: the `log-format` lines HAProxy would use, read as HAProxy reads its words.
@Suite("logquery --config: the formats of a haproxy.cfg")
struct ConfigFormatsTests {
    @Test func formatsOfDefaultsFrontendsAndListensOnceEachBackendsIgnored() throws {
        let formats = try ConfigFormats.read(
            text: """
                global
                    log stdout format raw local0
                defaults
                    mode http
                    log-format "%ci:%cp [%tr] %ft %b/%s %ST"   # quoted, comment after
                frontend a
                    log-format %ci\\ [%tr]\\ %b/%s\\ %ST
                frontend b
                    log-format "%ci:%cp [%tr] %ft %b/%s %ST"
                listen c
                    log-format '{"c":"%ci","b":"%b"}'
                backend web
                    log-format "%b %s"
                """, file: "haproxy.cfg")
        #expect(formats.count == 3, "\(formats.map(\.format))")
        #expect(try formats.map(\.format) == [
            CustomLogFormat.parse("%ci:%cp [%tr] %ft %b/%s %ST", http: true),
            CustomLogFormat.parse("%ci [%tr] %b/%s %ST", http: true),
            CustomLogFormat.parse(#"{"c":"%ci","b":"%b"}"#, http: true),
        ])
    }

    @Test func mistakesNameTheFileAndLine() {
        func failure(_ text: String) -> String? {
            do {
                _ = try ConfigFormats.read(text: text, file: "/etc/haproxy/haproxy.cfg")
                return nil
            } catch {
                return error.description
            }
        }
        #expect(
            failure("frontend a\n    log-format %ci [%tr]")
                == "/etc/haproxy/haproxy.cfg:2: log-format expects one argument (spaces escaped or quoted)")
        #expect(
            failure("defaults\n\nfrontend a\n    log-format \"%ci %zz\"")
                == "/etc/haproxy/haproxy.cfg:4: log-format: no such format variable 'zz'. If you wanted to emit the '%' character verbatim, you need to use '%%'")
        #expect(failure("frontend a\n    log-format \"%ci") == "/etc/haproxy/haproxy.cfg:2: unmatched quote at position 16:\n  log-format \"%ci\n             ^")
        #expect(throws: ConfigFormats.Failure.self) { try ConfigFormats.read(path: "/nonexistent/haproxy.cfg") }
    }
}
