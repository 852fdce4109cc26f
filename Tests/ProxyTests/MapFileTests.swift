import Testing

@testable import Proxy

/// HAProxy's map files and their lookups, as a spec (the live comparison is `MapRoutingInteropTests`).
@Suite("Map files")
struct MapFileTests {
    static let text = "# comment\n\n  www.example.com   be_www  \nexample.com be_apex\n/static/ cdn\n/static/img/ images\nk v with spaces\n"

    static func map(_ match: MapFile.Match, _ text: String = text) throws -> MapFile {
        try MapFile.parse(text, path: "t.map", match: match).get()
    }

    @Test func linesAreKeyAndTheRestOfTheLine() throws {
        let m = try Self.map(.str)
        #expect(m.lookup("www.example.com") == "be_www", "spaces around the key and the value dropped")
        #expect(m.lookup("k") == "v with spaces")
        #expect(m.lookup("WWW.example.com") == nil, "exact, with case")
        #expect(m.lookup("# comment") == nil)
    }

    @Test func eachMatchAsHAProxyLooksItUp() throws {
        #expect(try Self.map(.beg).lookup("/static/img/a.png") == "images", "the longest prefix")
        #expect(try Self.map(.beg).lookup("/static/x") == "cdn")
        #expect(try Self.map(.end).lookup("shop.example.com") == "be_apex", "the first in the file that ends it")
        #expect(try Self.map(.dom).lookup("a.www.example.com") == "be_www")
        #expect(try Self.map(.dom).lookup("wwwexample.com") == nil)
        #expect(try Self.map(.sub).lookup("x/static/y") == "cdn")
        let regexes = try Self.map(.reg, "^/api/v[0-9]+/ api\n.* other\n")
        #expect(regexes.lookup("/api/v2/x") == "api")
        #expect(regexes.lookup("/x") == "other")
        guard case .failure(let bad) = MapFile.parse("(open x\n", path: "t.map", match: .reg) else {
            Issue.record("a key that is no regular expression is refused")
            return
        }
        #expect(bad.key == "(open")
    }
}
