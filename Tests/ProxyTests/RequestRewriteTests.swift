import Testing

@testable import Proxy

/// HAProxy's rewriting semantics, as a spec (the live comparison is `RequestRewriteInteropTests`).
@Suite("Request rewriting")
struct RequestRewriteTests {
    @Test func theWholeSubjectBecomesTheReplacement() throws {
        let regex = try #require(RewriteRegex("/old/(.*)"))
        #expect(regex.rewrite("/x/old/page", with: "/new/\\1") == "/new/page", "the whole subject, not the match")
        #expect(regex.rewrite("/nothing", with: "/new/\\1") == nil)
        #expect(regex.rewrite("/old/a", with: "\\0|\\9|\\x41\\\\") == "/old/a||A\\")
        #expect(RewriteRegex("(unclosed") == nil)
    }

    @Test func targetPartsAsHAProxyRewritesThem() throws {
        func apply(_ part: TargetRewrite.Part, _ regex: String?, _ uri: String, _ value: String) -> String? {
            TargetRewrite(part: part, regex: regex.flatMap { RewriteRegex($0) }, value: LogFormatValue(literal: value))
                .apply(to: uri, value: value)
        }
        #expect(apply(.path, nil, "/a/b?q=1", "/c") == "/c?q=1")
        #expect(apply(.path, nil, "http://h.example/a?q", "/c") == "http://h.example/c?q")
        #expect(apply(.query, nil, "/a?q=1", "v=2") == "/a?v=2")
        #expect(apply(.query, nil, "/a", "") == "/a?")
        #expect(apply(.uri, nil, "/a?q", "/z") == "/z")
        #expect(apply(.path, "^/a/(.*)", "/a/b?q", "/x/\\1") == "/x/b?q", "the query string kept")
        #expect(apply(.path, "q", "/a/b?q", "/x") == nil, "the path alone is searched")
        #expect(apply(.uri, "q=([0-9])", "/a?q=7", "/n/\\1") == "/n/7")
    }

    @Test func headerValuesOneByOneOrWhole() throws {
        let regex = try #require(RewriteRegex("^([a-z]+)$"))
        let each = HeaderRewrite(name: "x", regex: regex, value: LogFormatValue(literal: "<\\1>"), eachValue: true)
        #expect(each.apply(to: "one, Two,three", replacement: "<\\1>") == "<one>, Two,<three>")
        let whole = HeaderRewrite(name: "x", regex: regex, value: LogFormatValue(literal: "<\\1>"), eachValue: false)
        #expect(whole.apply(to: "one, two", replacement: "<\\1>") == "one, two")
        #expect(whole.apply(to: "one", replacement: "<\\1>") == "<one>")
    }

    @Test func regsubReplacesTheMatchesOnly() throws {
        let regex = try #require(RewriteRegex("o"))
        #expect(regex.substitute("foo boo", with: "0", global: false) == "f0o boo")
        #expect(regex.substitute("foo boo", with: "0", global: true) == "f00 b00")
        let groups = try #require(RewriteRegex("^/api/(v[0-9])/"))
        #expect(groups.substitute("/api/v2/x", with: "/\\1/", global: false) == "/v2/x")
        let empty = try #require(RewriteRegex("x*"))
        #expect(empty.substitute("ab", with: "-", global: true) == "-a-b", "empty matches move on, none at the very end (HAProxy's loop stops there)")
        guard case .success(let value) = LogFormatValue.parse("%[path,regsub([^/]+$,index)]|%[hdr(host),upper]") else {
            Issue.record("not parsed")
            return
        }
        #expect(value.pieces.count == 3)
        guard case .failure = LogFormatValue.parse("%[path,json]") else {
            Issue.record("an unknown converter is refused")
            return
        }
    }
}
