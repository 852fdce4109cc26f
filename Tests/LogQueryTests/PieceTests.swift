import LogCore
import PropertyBased
import Testing

@testable import LogQuery

@Suite("Matching and counting pieces")
struct PieceTests {
    @Test func globs() {
        #expect(Glob("be_app").matches("be_app"))
        #expect(!Glob("be_app").matches("be_app2"))
        #expect(Glob("be_*").matches("be_"))
        #expect(Glob("be_*").matches("be_static"))
        #expect(Glob("*api*").matches("be_api_v2"))
        #expect(Glob("s?").matches("s1"))
        #expect(!Glob("s?").matches("s10"))
        #expect(Glob("*").matches(""))
        #expect(Glob("a*b*c").matches("aXXbYYc"))
        #expect(!Glob("a*b*c").matches("aXXbYY"))
    }

    @Test func addresses() throws {
        let net = try #require(AddressMatcher("10.0.0.0/8"))
        #expect(net.matches("10.200.3.4"))
        #expect(!net.matches("11.0.0.1"))
        #expect(!net.matches("::1"))
        let v6 = try #require(AddressMatcher("2001:db8::/32"))
        #expect(v6.matches("2001:db8::1"))
        #expect(v6.matches("2001:0db8:ffff::"))
        #expect(!v6.matches("2001:db9::1"))
        #expect(try #require(AddressMatcher("::1")).matches("::1"))
        #expect(try #require(AddressMatcher("::ffff:10.0.0.1")).matches("::ffff:10.0.0.1"))
        #expect(try #require(AddressMatcher("fe80::1:2")).matches("fe80:0:0:0:0:0:1:2"))
        #expect(AddressMatcher("10.0.0.0/33") == nil)
        #expect(AddressMatcher("300.0.0.1") == nil)
        #expect(AddressMatcher("1::2::3") == nil)
        #expect(AddressMatcher("unix") == nil)
        #expect(AddressMatcher("0.0.0.0/0")?.matches("192.0.2.1") == true)
    }

    @Test func percentilesEqualASortedReference() async {
        await propertyCheck(count: 200, input: Gen.int(in: -1...20_000).array(of: 1...300), Gen.int(in: 1...100)) {
            values, p in
            var h = ExactHistogram()
            var half = ExactHistogram()
            for (i, v) in values.enumerated() {
                h.add(v)
                if i % 2 == 0 { half.add(v) }
            }
            var other = ExactHistogram()
            for (i, v) in values.enumerated() where i % 2 == 1 { other.add(v) }
            half.merge(other)
            let sorted = values.filter { $0 >= 0 }.sorted()
            guard !sorted.isEmpty else {
                #expect(h.percentile(Double(p)) == nil)
                return
            }
            let rank = max(1, Int((Double(p) / 100 * Double(sorted.count)).rounded(.up)))
            #expect(h.percentile(Double(p)) == sorted[rank - 1])
            #expect(half.percentile(Double(p)) == sorted[rank - 1], "merging is exact")
            #expect(h.count == sorted.count)
        }
    }

    @Test func groupTableGrowsAndMerges() {
        var t = GroupTable<Int>(capacity: 2)
        for i in 0..<1000 {
            var key = Array("key\(i % 300)".utf8)
            key.withUnsafeMutableBufferPointer { t[t.index(of: UnsafeBufferPointer($0), make: { 0 })] += 1 }
        }
        #expect(t.count == 300)
        var u = GroupTable<Int>()
        u.merge(t, make: { 0 }) { $0 += $1 }
        u.merge(t, make: { 0 }) { $0 += $1 }
        #expect(u.sorted().first?.key == "key0")
        #expect(u.sorted().first?.value == 8)
    }

    @Test func halogOptionsParse() throws {
        let q = try HalogQuery.parse(["-H", "-hs", "500:", "-tcn", "SC", "-v", "-q", "-m", "3", "-srv"])
        #expect(q.output == .servers)
        #expect(q.statusRange == 500...65535)
        #expect(q.terminationCode == Array("SC".utf8))
        #expect(q.invert && q.quiet && q.httpOnly)
        #expect(q.maxLines == 3)
        #expect(try HalogQuery.parse(["-hs", "404"]).statusRange == 404...404)
        #expect(try HalogQuery.parse(["-HS", ":499"]).statusRange == 0...499)
        #expect(throws: HalogUsageError.self) { try HalogQuery.parse(["-st", "-srv"]) }
        #expect(throws: HalogUsageError.self) { try HalogQuery.parse(["-gt"]) }
        #expect(throws: HalogUsageError.self) { try HalogQuery.parse(["-bogus"]) }
        #expect(throws: HalogUsageError.self) { try HalogQuery.parse(["-m"]) }
    }
}
