import SyslogProtocol
import Testing

@testable import SyslogSink

/// rsyslog 8.2302's selector semantics, the cases shared knowledge of rsyslog records as verified.
@Suite("Selectors as rsyslog reads them")
struct PriorityFilterTests {
    func p(_ facility: Facility, _ severity: Severity) -> Priority { Priority(facility: facility, severity: severity) }

    /// Which (facility, severity) pairs a selector selects, as "facility.severity" texts over every pair.
    func selected(_ selector: String) throws -> Set<String> {
        let filter = try PriorityFilter(selector)
        var out: Set<String> = []
        for f in Facility.allOnWire + [.invalid] {
            for s in Severity.allCases where filter.matches(p(f, s)) { out.insert("\(f.rsyslogName).\(s.name)") }
        }
        return out
    }

    func all(_ facility: Facility, through worst: Severity = .debug) -> Set<String> {
        Set(Severity.allCases.filter { $0 <= worst }.map { "\(facility.rsyslogName).\($0.name)" })
    }

    @Test func everyFacilityAtInfoButMail() throws {
        let f = try PriorityFilter("*.info;mail.none")
        #expect(f.matches(p(.user, .notice)))
        #expect(f.matches(p(.local0, .informational)))
        #expect(!f.matches(p(.local0, .debug)))
        #expect(!f.matches(p(.mail, .emergency)))
        #expect(!f.matches(Priority.invalid), "invalid PRI is invld.debug")
    }

    @Test func allButAuth() throws {
        let s = try selected("*.*;auth,authpriv.none")
        #expect(!s.contains("auth.emerg") && !s.contains("authpriv.info"))
        #expect(s.contains("local0.debug") && s.contains("invld.debug"))
        #expect(s.count == 25 * 8 - 16)
    }

    @Test func exactAndNegated() throws {
        #expect(try selected("mail,news.=info") == ["mail.info", "news.info"])
        #expect(
            try selected("*.=crit;kern.none")
                == Set((Facility.allOnWire + [.invalid]).filter { $0 != .kern }.map { "\($0.rsyslogName).crit" }))
        #expect(try selected("local4.*;local4.!=debug") == all(.local4, through: .informational))
        #expect(try selected("local4.*;local4.!warning") == ["local4.notice", "local4.info", "local4.debug"])
        #expect(try selected("local4.!=debug").isEmpty, "8.2302: a negation on an empty mask stays empty")
        #expect(try selected("local4.!info").isEmpty)
    }

    @Test func thePriorityComesAfterTheFirstDot() throws {
        // mail.crit,*.err is mail crit and worse, and every facility err and worse.
        let s = try selected("mail.crit,*.err")
        #expect(s.contains("mail.crit") && s.contains("local3.err") && s.contains("mail.err"))
        #expect(!s.contains("mail.warning") && !s.contains("user.warning"))
    }

    @Test func namesAndNumbers() throws {
        #expect(try selected("LOCAL0.INFO") == all(.local0, through: .informational))
        #expect(try selected("local0.6") == all(.local0, through: .informational))
        #expect(try selected("local0.*") == all(.local0))
        #expect(try selected("security.warn") == all(.auth, through: .warning))
        #expect(try selected("local0.none").isEmpty)
        for bad in ["128.*", "local0.bogus", "bsd_security.*", "local8.*"] {
            #expect(throws: PriorityFilter.Error.self, "\(bad)") { try PriorityFilter(bad) }
        }
    }
}
