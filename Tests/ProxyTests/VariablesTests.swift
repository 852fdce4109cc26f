import NIOHTTP1
import Testing

@testable import Proxy

/// Variables' value types as HAProxy 2.6 defines them: names and scopes, `set-var`'s conditions, the `field`
/// converter (ported from `sample_conv_field`), the cookie fetches, `uuid`.
@Suite struct VariablesTests {
    @Test func namesCarryTheirScopeAndHAProxysCharacterRules() throws {
        #expect(try VariableName.parse("txn.host").get() == VariableName(scope: .transaction, name: "host"))
        #expect(try VariableName.parse("proc.a.b_c9").get() == VariableName(scope: .process, name: "a.b_c9"))
        #expect(try VariableName.parse("sess.x").get().description == "sess.x")
        for bad in ["host", "txn.", "tx.host", "TXN.host", ""] {
            #expect(throws: VariableNameError.self, "\(bad)") { try VariableName.parse(bad).get() }
        }
        if case .failure(let e) = VariableName.parse("txn.a-b") { #expect(e.message == "invalid syntax at char '-b'") }
        if case .failure(let e) = VariableName.parse("check.port") { #expect(e.message.contains("not in this build")) }
    }

    @Test func conditionsDecideAsHAProxysVarSet() {
        func allows(_ c: VariableAction.Condition, existing: VariableValue?, existed: Bool, new: VariableValue) -> Bool {
            VariableAction(name: VariableName(scope: .transaction, name: "x"), conditions: [c], value: nil)
                .allows(existing: existing, existed: existed, new: new)
        }
        #expect(allows(.ifexists, existing: nil, existed: true, new: .text("a")))
        #expect(!allows(.ifexists, existing: nil, existed: false, new: .text("a")))
        #expect(allows(.ifnotexists, existing: nil, existed: false, new: .text("a")))
        #expect(allows(.ifempty, existing: nil, existed: false, new: .text("")))
        // Scalars are never empty.
        #expect(!allows(.ifempty, existing: nil, existed: false, new: .integer(0)))
        #expect(allows(.ifnotempty, existing: nil, existed: false, new: .integer(0)))
        #expect(!allows(.ifnotempty, existing: nil, existed: false, new: .text("")))
        #expect(allows(.ifset, existing: .text("a"), existed: true, new: .text("b")))
        #expect(!allows(.ifset, existing: nil, existed: true, new: .text("b")))
        #expect(allows(.ifgt, existing: .integer(5), existed: true, new: .integer(3)))
        #expect(!allows(.ifgt, existing: .integer(3), existed: true, new: .integer(5)))
        #expect(!allows(.iflt, existing: .integer(3), existed: true, new: .integer(1)))
        // Not two integers: true.
        #expect(allows(.ifgt, existing: .text("9"), existed: true, new: .integer(50)))
        #expect(allows(.iflt, existing: nil, existed: false, new: .integer(50)))
        let target = VariableAction.parseTarget("txn.x,ifexists,ifnotempty")
        #expect((try? target.get())?.1 == [.ifexists, .ifnotempty])
        if case .failure(let e) = VariableAction.parseTarget("txn.x,sometimes") {
            #expect(e.message == "unknown condition \"sometimes\"")
        } else {
            Issue.record("an unknown condition was accepted")
        }
    }

    @Test func fieldCutsAsHAProxysConverter() {
        let f = LogFormatValue.Converter.cutField
        let dots = Array(".".utf8)
        #expect(f("a.b.c", 1, dots, 1) == "a")
        #expect(f("a.b.c", 2, dots, 1) == "b")
        #expect(f("a.b.c", 3, dots, 1) == "c")
        #expect(f("a.b.c", 4, dots, 1) == nil)
        #expect(f("a.b.c", -1, dots, 1) == "c")
        #expect(f("a.b.c", -3, dots, 1) == "a")
        #expect(f("a.b.c", -4, dots, 1) == nil)
        #expect(f("a.b.c", 0, dots, 1) == nil)
        #expect(f("a.b.c.d", 2, dots, 2) == "b.c")
        #expect(f("a.b.c.d", 2, dots, 0) == "b.c.d")
        #expect(f("a.b.c.d", -2, dots, 2) == "b.c")
        #expect(f("a..c", 2, dots, 1) == "")
        #expect(f("k=v;x", 2, Array("=;".utf8), 1) == "v")
        #expect(f("", 1, dots, 1) == "")
        if case .success(let c)? = LogFormatValue.Converter.parse("field(2,:)") {
            #expect(c.apply("host:8080") == "8080")
        } else {
            Issue.record("field(2,:) was not read")
        }
        #expect(LogFormatValue.Converter.parse("field(x,:)") == nil)
    }

    @Test func expressionsAreOneFetchAndItsConverters() throws {
        let value = try LogFormatValue.parseExpression("req.hdr(Host),lower,field(1,:)").get()
        #expect(value.pieces.count == 1 && !value.isLiteral)
        guard case .converted(.header("host"), let converters) = value.pieces[0] else {
            Issue.record("\(value.pieces)")
            return
        }
        #expect(converters.count == 2)
        #expect(LogFormatValue.fetch("var(txn.a,none)") == .variable(VariableName(scope: .transaction, name: "a"), default: "none"))
        #expect(LogFormatValue.fetch("int(-3)") == .constant(.integer(-3)))
        #expect(LogFormatValue.fetch("str(a b)") == .constant(.text("a b")))
        #expect(LogFormatValue.fetch("req.cook_cnt(id)") == .cookieCount("id"))
        #expect(LogFormatValue.fetch("var(nope)") == nil)
        #expect(throws: LogFormatValue.UnknownPart.self) { try LogFormatValue.parseExpression("src,crc32(1)").get() }
    }

    @Test func ipmaskKeepsTheNetwork() {
        let network = LogFormatValue.Converter.network
        #expect(network("192.0.2.77", 0xFFFF_FF00, nil) == "192.0.2.0")
        #expect(network("192.0.2.77", 0xFFFF_0000, 64) == "192.0.0.0")
        #expect(network("2001:db8:1:2::7", 0xFFFF_FF00, 48) == "2001:db8:1::")
        #expect(network("2001:db8::7", 0xFFFF_FF00, nil) == nil, "an IPv6 address without a v6 mask has no result")
        #expect(network("not-an-address", 0xFFFF_FF00, nil) == nil)
        #expect(AddressSet.ipv4Mask("255.255.240.0") == 0xFFFF_F000 && AddressSet.ipv4Mask("20") == 0xFFFF_F000)
        #expect(AddressSet.ipv4Mask("255.0.255.0") == nil)
    }

    @Test func cookiesAreReadAsReqCookReadsThem() {
        var headers = HTTPHeaders()
        headers.add(name: "cookie", value: "a=1; id = 7 ;b")
        headers.add(name: "Cookie", value: "id=8;ID=9")
        #expect(RequestCookies.values(of: "id", in: headers) == ["7", "8"])
        #expect(RequestCookies.values(of: "b", in: headers) == [])
        #expect(RequestCookies.values(of: "ID", in: headers) == ["9"])
    }

    @Test func uuidsAreVersionFourInLowerCase() {
        let fixed = UUIDv4.format(high: 0xFFFF_FFFF_FFFF_FFFF, low: 0)
        #expect(fixed == "ffffffff-ffff-4fff-8000-000000000000")
        let random = UUIDv4.random()
        #expect(random.count == 36 && random.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(random != UUIDv4.random())
    }
}
