import Testing

@testable import Proxy

/// HAProxy 2.6's hashing for `balance source|uri|url_param|hdr`, as a spec (the live comparison is
/// `HashBalancingInteropTests`).
@Suite("Hash balancing")
struct HashBalancingTests {
    @Test func theHashFunctionsAreHAProxys() {
        let check = Array("123456789".utf8)
        #expect(HashType.hash(check, .crc32) == 0xCBF4_3926, "the standard CRC-32 check value")
        #expect(HashType.hash([], .djb2) == 5381)
        #expect(HashType.hash(Array("a".utf8), .djb2) == 5381 &* 33 &+ 97)
        #expect(HashType.hash(Array("ab".utf8), .sdbm) == 98 &+ (97 << 6) &+ (97 << 16) &- 97)
        #expect(HashType.hash([], .wt6) == 0xa53c_965a ^ 0x5ca6_953a)
        #expect(HashType.fullHash(0) != 0 && HashType.fullHash(1) != HashType.fullHash(2))
        // `source`: the address as a network-order word, avalanched only when asked.
        #expect(HashType().hash(address: [10, 0, 0, 1]) == 0x0A00_0001)
        #expect(HashType(avalanche: true).hash(address: [10, 0, 0, 1]) == HashType.fullHash(0x0A00_0001))
        #expect(HashType().hash(address: Array(repeating: 1, count: 16)) == 0, "IPv6: four words XORed")
    }

    @Test func theMapSpreadsWeightsWithTheFirstServerFirst() {
        let map = ServerMap([.init(server: 0, weight: 1), .init(server: 1, weight: 3), .init(server: 2, weight: 2)])
        #expect(map.entries.count == 6)
        #expect(map.entries.filter { $0 == 1 }.count == 3 && map.entries.filter { $0 == 2 }.count == 2)
        #expect(map.entries == [0, 1, 2, 1, 1, 2], "HAProxy's recalc_server_map order for weights 1, 3, 2")
        #expect(map.server(for: 7) == map.entries[1])
        #expect(ServerMap([.init(server: 4, weight: 1)]).server(for: 12345) == 4)
    }

    @Test func theRingSendsAKeyToTheNearerPoint() {
        let ring = ConsistentRing([.init(server: 0, puid: 1, weight: 1), .init(server: 1, puid: 2, weight: 1)])
        // Every server's points are its own: a key exactly on one goes to it.
        let point = HashType.fullHash(UInt32(1 * 4096 + 3))
        #expect(ring.server(for: point) == 0)
        #expect(ring.server(for: HashType.fullHash(UInt32(2 * 4096 + 15))) == 1)
        // Taking a server out moves only its keys.
        let one = ConsistentRing([.init(server: 0, puid: 1, weight: 1)])
        for key in stride(from: UInt32(0), to: UInt32.max - 100_000_000, by: 100_000_000) where ring.server(for: key) == 0 {
            #expect(one.server(for: key) == 0)
        }
    }

    @Test func requestKeysAsHAProxyCutsThem() {
        func key(_ input: HashInput, _ uri: String, header: String? = nil) -> String? {
            input.key(uri: Substring(uri), header: header.map { Substring($0) }).map { String(decoding: $0, as: UTF8.self) }
        }
        let uri = HashInput.uri(length: 0, depth: 0, whole: false, pathOnly: false)
        #expect(key(uri, "/a/b?c=d") == "/a/b")
        #expect(key(.uri(length: 0, depth: 0, whole: true, pathOnly: false), "/a/b?c=d") == "/a/b?c=d")
        #expect(key(.uri(length: 0, depth: 2, whole: false, pathOnly: false), "/a/b/c/d") == "/a/b")
        #expect(key(.uri(length: 3, depth: 0, whole: false, pathOnly: false), "/abcdef") == "/ab")
        #expect(key(.uri(length: 0, depth: 0, whole: false, pathOnly: true), "http://h.example/p/q?x") == "/p/q")
        #expect(key(uri, "http://h.example/p/q?x") == "http://h.example/p/q")
        #expect(key(.urlParameter("id"), "/x?a=1&id=42&b") == "42")
        #expect(key(.urlParameter("id"), "/x?idx=1&aid=2") == nil)
        #expect(key(.urlParameter("id"), "/x/id=3") == nil)
        #expect(key(.header("host", domainOnly: true), "/", header: "www.example.com") == "example")
        #expect(key(.header("host", domainOnly: true), "/", header: "example.com") == "example")
        #expect(key(.header("host", domainOnly: false), "/", header: "") == nil)
    }
}

/// HAProxy's dynamic server limit (`minconn`, `maxconn`, the backend's `fullconn`), as a spec.
@Suite("Dynamic server limits")
struct DynamicLimitTests {
    @Test func theLimitFollowsTheBackendsLoadFromMinconnToMaxconn() {
        var server = Balancer.Server(name: "s", weight: 1, maxconn: 100)
        server.minconn = 10
        var b = Balancer(algorithm: .roundrobin, servers: [server])
        b.fullconn = 1000
        for (load, limit) in [(0, 10), (50, 10), (200, 20), (999, 99), (1000, 100), (5000, 100)] {
            b.backendLoad = load
            #expect(b.limit(0) == limit, "load \(load)")
        }
        var fixed = Balancer.Server(name: "f", weight: 1, maxconn: 5)
        fixed.minconn = 5
        var c = Balancer(algorithm: .roundrobin, servers: [fixed])
        c.fullconn = 1000
        #expect(c.limit(0) == 5, "minconn = maxconn: a static limit")
        let none = Balancer(algorithm: .roundrobin, servers: [Balancer.Server(name: "n", weight: 1)])
        #expect(none.limit(0) == nil && none.hasSlot(0))
    }
}
