import Testing

@testable import Proxy

/// HAProxy 2.6's `.if` blocks and their expressions, as a spec (`haproxy -c` beside `proxy -c` in
/// `ProxyConfigInteropTests`).
@Suite("Conditional blocks")
struct ConfigConditionsTests {
    static func value(_ text: String, defined: Set<String> = ["SET"]) -> Bool? {
        try? ConfigConditions.evaluate(text, environment: { defined.contains($0) }).get()
    }

    @Test func expressions() {
        #expect(Self.value("1") == true)
        #expect(Self.value("0") == false)
        #expect(Self.value("!0") == true)
        #expect(Self.value("defined(SET)") == true)
        #expect(Self.value("defined(UNSET)") == false)
        #expect(Self.value("defined(UNSET) || defined(SET)") == true)
        #expect(Self.value("1 || 0 && 0") == true, "&& before ||")
        #expect(Self.value("(1 || 0) && 0") == false)
        #expect(Self.value("streq(a,a) && strneq(a,b)") == true)
        #expect(Self.value("version_atleast(2.4)") == true)
        #expect(Self.value("version_before(2.6)") == false)
        #expect(Self.value("version_atleast(2.7-dev0)") == false)
        #expect(Self.value("feature(LUA)") == false, "what this build does not have")
        #expect(Self.value("feature(OPENSSL)") == true)
        #expect(Self.value("nonsense(x)") == nil)
        #expect(Self.value("defined(SET") == nil)
    }

    @Test func blocksTakeOneBranch() throws {
        let c = try HAProxyConfigParser.parse(
            text: """
                .if defined(TOLLGATE_NEVER_SET_VARIABLE)
                frontend never
                    bind :81
                .elif version_atleast(2.4)
                frontend taken
                    bind :82
                    .if 0
                    bogus keyword
                    .else
                    default_backend b
                    .endif
                .else
                frontend other
                    bind :83
                .endif
                backend b
                    server s 10.0.0.1:80
                """)
        #expect(c.proxies.map(\.name) == ["taken", "b"])
        #expect(c.proxies.first?.defaultBackend == "b")
    }

    @Test func misplacedDirectivesAreRefused() {
        for text in [".endif\n", ".if 1\n", ".else\n", ".if 1\n.else\n.else\n.endif\n", ".if 1\n.else\n.elif 1\n.endif\n"] {
            #expect(throws: ConfigProblems.self) { try HAProxyConfigParser.parse(text: text) }
        }
    }
}
