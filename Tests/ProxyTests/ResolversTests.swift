import Testing

@testable import Proxy

/// The value types of name resolution, held to what HAProxy 2.6 sends and does (the bytes of its queries and the
/// order it hands addresses to servers were read off the real program: see the interop test beside it).
@Suite("resolvers: DNS messages, XXH32 and the addresses servers take")
struct ResolversTests {
    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.filter { !$0.isWhitespace })
        return stride(from: 0, to: digits.count, by: 2).compactMap { UInt8(String(digits[$0...$0 + 1]), radix: 16) }
    }

    @Test func aQueryIsHAProxysBytes() {
        // HAProxy 2.6.12 asking for ok.test's AAAA with accepted_payload_size 1232.
        let query = DNSMessage.query(id: 0x29EE, name: "ok.test", type: .aaaa, payloadSize: 1232)
        #expect(query == Self.hex("29ee 0100 0001 0000 0000 0001 026f6b0474657374 00 001c 0001 00 0029 04d0 00000000 0000"))
        // The default 512 is announced too (HAProxy always adds the OPT record)… as a plain query would not.
        let plain = DNSMessage.query(id: 1, name: "a.b.", type: .a, payloadSize: 512)
        #expect(plain?.count == 12 + 5 + 4)
        #expect(DNSMessage.query(id: 1, name: String(repeating: "x", count: 64) + ".test", type: .a, payloadSize: 512) == nil)
        #expect(DNSMessage.query(id: 1, name: "a..b", type: .a, payloadSize: 512) == nil)
    }

    /// A response to `name`'s `type` with these answers (owner written in full or as a pointer to the question).
    static func response(
        id: UInt16 = 7, rcode: UInt8 = 0, truncated: Bool = false, name: String, type: UInt16,
        answers: [(owner: [UInt8], type: UInt16, data: [UInt8])]
    ) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x81 | (truncated ? 0x02 : 0), 0x80 | rcode, 0, 1, 0]
        out.append(UInt8(answers.count))
        out += [0, 0, 0, 0]
        out += DNSMessage.encode(name: name) ?? []
        out += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        for answer in answers {
            out += answer.owner
            out += [UInt8(answer.type >> 8), UInt8(answer.type & 0xFF), 0, 1, 0, 0, 0, 60]
            out += [UInt8(answer.data.count >> 8), UInt8(answer.data.count & 0xFF)]
            out += answer.data
        }
        return out
    }

    @Test func responsesAreReadWithTheirPointersAndChains() throws {
        let pointer: [UInt8] = [0xC0, 12]
        let cname = DNSMessage.encode(name: "real.test") ?? []
        let bytes = Self.response(
            name: "www.test", type: 1,
            answers: [(pointer, 5, cname), (cname, 1, [10, 0, 0, 1]), ([0xC0, 12], 1, [10, 0, 0, 2])])
        let r = try #require(DNSMessage.parse(bytes))
        #expect(r.id == 7 && r.rcode == 0 && !r.truncated && r.questionName == "www.test" && r.questionType == 1)
        #expect(r.answers.map(\.data) == [.cname("real.test"), .address([10, 0, 0, 1]), .address([10, 0, 0, 2])])
        #expect(r.answers.map(\.name) == ["www.test", "real.test", "www.test"])
        // NXDOMAIN and the truncated flag.
        let nx = try #require(DNSMessage.parse(Self.response(rcode: 3, truncated: true, name: "x.test", type: 28, answers: [])))
        #expect(nx.rcode == 3 && nx.truncated && nx.answers.isEmpty)
        // SRV data.
        let srv = [0, 0, 0, 10, 0x1F, 0x90] + (DNSMessage.encode(name: "h1.test") ?? [])
        let s = try #require(DNSMessage.parse(Self.response(name: "_http._tcp.web.test", type: 33, answers: [(pointer, 33, srv)])))
        #expect(s.answers.first?.data == .srv(priority: 0, weight: 10, port: 8080, target: "h1.test"))
    }

    @Test func malformedResponsesAreNilNeverACrash() {
        let good = Self.response(name: "www.test", type: 1, answers: [([0xC0, 12], 1, [10, 0, 0, 1])])
        // Every cut of a good response, a query (no QR bit), a pointer forwards or to itself, a wrong A length.
        for n in 0..<good.count { #expect(DNSMessage.parse(Array(good.prefix(n))) == nil) }
        var query = good
        query[2] = 0x01
        #expect(DNSMessage.parse(query) == nil)
        var forward = good
        forward[forward.count - 16] = 0xC0
        forward[forward.count - 15] = 200
        #expect(DNSMessage.parse(forward) == nil)
        #expect(DNSMessage.parse(Self.response(name: "a.test", type: 1, answers: [([0xC0, 12], 1, [1, 2, 3])])) == nil)
        let loop: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]
        #expect(DNSMessage.parse(loop) == nil)
        // Random bytes: never a crash.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<80, using: &generator)
            _ = DNSMessage.parse((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
    }

    @Test func xxh32IsTheSpecificationsAndOrdersAsHAProxy() {
        #expect(XXH32.hash([], seed: 0) == 0x02CC_5D05)
        #expect(XXH32.hash(Array("Nobody inspects the spammish repetition".utf8), seed: 0) == 0xE229_3B2F)
        // The keys HAProxy 2.6.12 ordered 127.0.0.11…13 by (A records: seed 1).
        #expect(XXH32.hash([127, 0, 0, 13], seed: 1) == 0x0E60_FB4E)
        #expect(XXH32.hash([127, 0, 0, 12], seed: 1) == 0x26C4_0711)
        #expect(XXH32.hash([127, 0, 0, 11], seed: 1) == 0xA28E_CEF4)
    }

    @Test func serversTakeDistinctAddressesInHAProxysOrder() throws {
        var cache = ResolvedAddresses()
        cache.update(with: [[127, 0, 0, 11], [127, 0, 0, 12], [127, 0, 0, 13]], now: 0, obsolete: 0)
        let wish = ResolvedAddresses.Wish(preferIPv4: true)
        // Three template servers without an address, one after the other (each taking what the ones before took).
        var taken: Set<[UInt8]> = []
        var given: [[UInt8]] = []
        for _ in 0..<4 {
            guard let address = cache.choose(for: wish, current: nil, taken: taken) else { break }
            taken.insert(address)
            given.append(address)
        }
        // As HAProxy 2.6.12 gave them: t1 .13, t2 .12, t3 .11, and none for a fourth.
        #expect(given == [[127, 0, 0, 13], [127, 0, 0, 12], [127, 0, 0, 11]])
        // A server keeps an address still answered; allow-dup-ip takes a taken one when nothing else is left.
        #expect(cache.choose(for: wish, current: [127, 0, 0, 11], taken: taken) == [127, 0, 0, 11])
        let duplicates = ResolvedAddresses.Wish(preferIPv4: true, allowDuplicates: true)
        #expect(cache.choose(for: duplicates, current: nil, taken: taken) == [127, 0, 0, 13])
        // resolve-net wins over key order.
        let net = ResolvedAddresses.Wish(preferIPv4: true, networks: try AddressSet.parse(["127.0.0.11/32"]).get())
        #expect(cache.choose(for: net, current: nil, taken: []) == [127, 0, 0, 11])
        // resolve-net is read as ACL networks are (AddressSet): a dotted mask, IPv6.
        #expect(AddressSet.address(bytes: [10, 1, 2, 3]) == AddressSet.address("10.1.2.3"))
        #expect(AddressSet.address(bytes: Array(repeating: 0, count: 15) + [1]) == AddressSet.address("::1"))
        let dotted = ResolvedAddresses.Wish(
            preferIPv4: true, networks: try AddressSet.parse(["127.0.0.12/255.255.255.255"]).get())
        #expect(cache.choose(for: dotted, current: nil, taken: []) == [127, 0, 0, 12])
        // The preferred family first.
        var mixed = ResolvedAddresses()
        mixed.update(with: [[127, 0, 0, 1], Array(repeating: 0, count: 15) + [1]], now: 0, obsolete: 0)
        #expect(mixed.choose(for: ResolvedAddresses.Wish(preferIPv4: false), current: nil, taken: [])?.count == 16)
        #expect(mixed.choose(for: wish, current: nil, taken: [])?.count == 4)
    }

    @Test func anAddressLeftOutGoesAfterHoldObsolete() {
        var cache = ResolvedAddresses()
        cache.update(with: [[10, 0, 0, 1], [10, 0, 0, 2]], now: 1000, obsolete: 3000)
        cache.update(with: [[10, 0, 0, 2]], now: 2000, obsolete: 3000)
        #expect(cache.items.count == 2)
        cache.update(with: [[10, 0, 0, 2]], now: 4001, obsolete: 3000)
        #expect(cache.items.map(\.bytes) == [[10, 0, 0, 2]])
        // hold obsolete 0: at the first answer without it.
        cache.update(with: [[10, 0, 0, 3]], now: 4002, obsolete: 0)
        #expect(cache.items.map(\.bytes) == [[10, 0, 0, 3]])
    }

    @Test func theSectionAndTheServerKeywordsAreRead() throws {
        let text = """
            resolvers dns
                nameserver d1 127.0.0.1:5353
                resolve_retries 2
                timeout resolve 200ms
                timeout retry 100ms
                hold nx 3s
                hold obsolete 1s
                accepted_payload_size 8192
            listen l
                bind 127.0.0.1:8080
                server-template web 2-3 web.invalid:80 resolvers dns resolve-prefer ipv4 init-addr none
                server s app.invalid:81 resolvers dns resolve-opts allow-dup-ip
            """
        let c = try HAProxyConfigParser.parse(text: text + "\n")
        let section = try #require(c.resolvers.first)
        #expect(section.name == "dns" && section.nameservers.map(\.port) == [5353] && section.retries == 2)
        #expect(section.resolveInterval.milliseconds == 200 && section.retryInterval.milliseconds == 100)
        #expect(section.hold[.nx]?.milliseconds == 3000 && section.hold[.valid]?.milliseconds == 10000)
        #expect(section.payloadSize == 8192)
        let servers = try #require(c.proxies.first?.servers)
        #expect(servers.map(\.name) == ["web2", "web3", "s"])
        #expect(servers.allSatisfy { $0.noAddress && $0.resolve.resolvers == "dns" })
        #expect(servers[0].resolve.preferIPv4 && !servers[2].resolve.preferIPv4 && servers[2].resolve.allowDuplicateIP)
        // The server without init-addr: HAProxy's warning, in maintenance until an answer.
        #expect(c.warnings.contains { $0.message.contains("could not resolve address 'app.invalid', disabling server") })
    }
}
