import Testing

@testable import Proxy

/// `src` ACLs' addresses as HAProxy reads them: addresses, CIDR networks (a dotted IPv4 mask too), IPv6, merged
/// into ranges that a binary search looks up.
@Suite("src ACL address sets")
struct AddressSetTests {
    func set(_ patterns: [String]) throws -> AddressSet { try AddressSet.parse(patterns).get() }
    func has(_ set: AddressSet, _ address: String) throws -> Bool { set.contains(try #require(AddressSet.address(address))) }

    @Test func networksAndAddressesOfBothFamilies() throws {
        let s = try set(["10.0.0.0/8", "192.0.2.7", "198.51.100.0/255.255.255.0", "2001:db8::/32", "::1"])
        for inside in ["10.0.0.0", "10.255.255.255", "192.0.2.7", "198.51.100.200", "2001:db8::1", "::1"] {
            #expect(try has(s, inside), "\(inside)")
        }
        for outside in ["9.255.255.255", "11.0.0.0", "192.0.2.8", "198.51.101.0", "2001:db9::", "::2", "127.0.0.1"] {
            #expect(try !has(s, outside), "\(outside)")
        }
        #expect(try has(s, "::ffff:10.1.2.3"), "an IPv4-mapped IPv6 client is the IPv4 client it names")
    }

    @Test func overlappingAndAdjacentRangesMergeAndTheEdgesHold() throws {
        let s = try set(["10.0.0.0/9", "10.128.0.0/9", "10.1.0.0/16", "0.0.0.0/0"])
        #expect(try has(s, "0.0.0.0") && has(s, "255.255.255.255") && !has(s, "::"))
        let all = try set(["::/0"])
        #expect(try has(all, "::") && has(all, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") && has(all, "1.2.3.4"))
        #expect(try set([]).isEmpty && !has(set([]), "1.2.3.4"))
    }

    @Test func whatIsNotAnAddressIsNamed() {
        for bad in ["example.com", "10.0.0.0/33", "10.0.0.0/255.0.255.0", "2001:db8::/129", "10.0.0", "1.2.3.4/x"] {
            #expect(throws: AddressSet.PatternError(pattern: bad)) { try AddressSet.parse(["10.0.0.1", bad]).get() }
        }
    }

    @Test func aLongBlocklistAgreesWithAScan() throws {
        var patterns: [String] = []
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let a = UInt32.random(in: 0...UInt32.max, using: &generator)
            let bits = Int.random(in: 8...32, using: &generator)
            patterns.append("\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)/\(bits)")
        }
        let s = try set(patterns)
        let ranges = patterns.map { pattern -> (UInt32, UInt32) in
            let parts = pattern.split(separator: "/")
            let octets = parts[0].split(separator: ".").compactMap { UInt32($0) }
            let base = octets.reduce(0) { $0 << 8 | $1 }
            let bits = Int(parts[1]) ?? 32
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
            return (base & mask, base & mask | ~mask)
        }
        for _ in 0..<2_000 {
            let probe = UInt32.random(in: 0...UInt32.max, using: &generator)
            let scanned = ranges.contains { $0.0 <= probe && probe <= $0.1 }
            #expect(s.contains(AddressSet.mapped(probe)) == scanned)
        }
    }
}
