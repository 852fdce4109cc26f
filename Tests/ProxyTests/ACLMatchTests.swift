import NIOHTTP1
import Testing

@testable import Proxy

/// ACL tests on a request as HAProxy evaluates them: whole, prefix (`_beg`), suffix (`_end`) and substring (`_sub`)
/// matches, `-i` folding ASCII letters, every value of a header, the path without its query.
@Suite("ACL matching")
struct ACLMatchTests {
    func test(_ sample: ACLTest.Sample, _ match: ACLTest.Match, _ values: [String], insensitive: Bool = false)
        -> ACLTest
    {
        ACLTest(
            sample: sample, match: match, caseInsensitive: insensitive,
            values: insensitive ? values.map { $0.lowercased() } : values)
    }

    func request(_ uri: String, method: HTTPMethod = .GET, headers: [(String, String)] = []) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        return head
    }

    func matches(_ t: ACLTest, _ head: HTTPRequestHead) -> Bool { t.matches(head, path: head.path, client: nil) }

    @Test func pathMatchesWholeAtEitherEndOrInside() {
        let head = request("/Admin/users.php?x=/etc")
        #expect(matches(test(.path, .exact, ["/Admin/users.php"]), head))
        #expect(!matches(test(.path, .exact, ["/Admin/users.php?x=/etc"]), head), "the query is not the path's")
        #expect(matches(test(.path, .prefix, ["/static", "/Admin"]), head))
        #expect(!matches(test(.path, .prefix, ["/admin"]), head))
        #expect(matches(test(.path, .prefix, ["/ADMIN"], insensitive: true), head))
        #expect(matches(test(.path, .suffix, [".asp", ".php"]), head))
        #expect(!matches(test(.path, .suffix, ["/etc"]), head))
        #expect(matches(test(.path, .substring, ["users"]), head))
        #expect(matches(test(.path, .substring, ["USERS.PHP"], insensitive: true), head))
        #expect(!matches(test(.path, .substring, ["/users.php/"]), head), "longer than what is left")
        #expect(matches(test(.path, .prefix, [""]), head) && matches(test(.path, .substring, [""]), head))
    }

    @Test func methodAndEveryValueOfAHeader() {
        let head = request("/", method: .POST, headers: [("user-agent", "curl/8"), ("user-agent", "SQLMap/1.7")])
        #expect(matches(test(.method, .exact, ["PUT", "POST"]), head))
        #expect(!matches(test(.method, .exact, ["post"]), head))
        #expect(matches(test(.header("user-agent"), .substring, ["sqlmap"], insensitive: true), head))
        #expect(!matches(test(.header("user-agent"), .substring, ["sqlmap"]), head))
        #expect(!matches(test(.header("x-missing"), .prefix, [""]), head), "no such header: nothing matches")
    }

    @Test func wholeComponentsAndPresence() {
        let head = request("/static/img/a.png", headers: [("host", "www.Example.com")])
        #expect(matches(test(.path, .directory, ["img"]), head))
        #expect(matches(test(.path, .directory, ["/static/img/"]), head), "the pattern's own delimiters left out")
        #expect(!matches(test(.path, .directory, ["im"]), head) && !matches(test(.path, .directory, ["static/i"]), head))
        #expect(matches(test(.header("host"), .domain, ["example.com"], insensitive: true), head))
        #expect(!matches(test(.header("host"), .domain, ["example.com"]), head), "-i folds the case")
        #expect(!matches(test(.header("host"), .domain, ["ample.com"], insensitive: true), head))
        #expect(matches(test(.header("host"), .domain, ["www"], insensitive: true), head))
        #expect(matches(test(.header("host"), .found, []), head))
        #expect(!matches(test(.header("authorization"), .found, []), head))
    }

    @Test func regularExpressionsAreSearchedUnlessAnchored() throws {
        func regex(_ patterns: [String], insensitive: Bool = false) throws -> ACLTest {
            var t = test(.path, .regex, patterns, insensitive: insensitive)
            t.regexes = try PatternRegexes.compile(patterns, ignoringCase: insensitive).get()
            return t
        }
        let head = request("/api/V2/users")
        #expect(try matches(regex(["v[0-9]+/"], insensitive: true), head))
        #expect(try !matches(regex(["v[0-9]+/"]), head))
        #expect(try !matches(regex(["^/V2"]), head) && matches(regex(["^/api/"]), head))
        #expect(throws: PatternRegexes.PatternError(pattern: "(unclosed")) {
            try PatternRegexes.compile(["ok", "(unclosed"], ignoringCase: false).get()
        }
    }

    @Test func aConditionTakesAlternativesOfTermsAndNegations() {
        let admin = test(.path, .prefix, ["/admin"])
        let post = test(.method, .exact, ["POST"])
        let condition = RuleCondition(
            unless: false,
            alternatives: [
                [.init(negated: false, tests: [admin]), .init(negated: true, tests: [post])],
                [.init(negated: false, tests: [post])],
            ])
        #expect(condition.holds(request("/admin/x"), path: "/admin/x", client: nil))
        #expect(condition.holds(request("/x", method: .POST), path: "/x", client: nil))
        #expect(!condition.holds(request("/x"), path: "/x", client: nil))
    }
}
