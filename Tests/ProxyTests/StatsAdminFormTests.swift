import Testing

@testable import Proxy

/// The stats page's admin form as HAProxy 2.6 reads its POST body: fields from the end (the last `b` and
/// `action` win, every `s` counts), form decoding, and the outcome codes.
@Suite("Stats admin form")
struct StatsAdminFormTests {
    @Test func fieldsAreReadAsHAProxyReadsThem() {
        let form = StatsAdminForm.parse(Array("s=a&s=b%20c&action=drain&b=one&b=two&action=maint".utf8))
        #expect(form == StatsAdminForm(backend: "two", action: "maint", servers: ["a", "b c"]))
        #expect(StatsAdminForm.parse(Array("s=x+y&b=app".utf8)) == StatsAdminForm(backend: "app", action: nil, servers: ["x y"]))
        #expect(StatsAdminForm.parse(Array("s=%ZZ&b=app".utf8)) == nil, "a broken escape is HAProxy's ERRP")
        #expect(StatsAdminForm.parse(Array("s=%4".utf8)) == nil)
        #expect(StatsAdminForm.parse([]) == StatsAdminForm(backend: nil, action: nil, servers: []))
    }

    @Test func outcomes() {
        #expect(StatsAdminForm.outcome(total: 0, altered: 0) == "NONE")
        #expect(StatsAdminForm.outcome(total: 2, altered: 0) == "ERRP")
        #expect(StatsAdminForm.outcome(total: 2, altered: 1) == "PART")
        #expect(StatsAdminForm.outcome(total: 2, altered: 2) == "DONE")
        #expect(StatsAdminForm.message("DENY") == "Action denied." && StatsAdminForm.message("XXXX") == nil)
    }
}
