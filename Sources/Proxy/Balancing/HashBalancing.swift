/// HAProxy 2.6's hash-based balancing, so that a client, a URI or a header value reaches the same server through
/// Tollgate as through HAProxy with the same servers and weights (a fleet can mix the two): its hash functions, its
/// map of servers by weight (`hash-type map-based`, the default) and its ring (`hash-type consistent`). Facts from
/// HAProxy's `hash.c`, `lb_map.c`, `lb_chash.c` and `backend.c`; value types, no I/O.
public struct HashType: Hashable, Sendable {
    public enum Function: String, Hashable, Sendable, CaseIterable {
        case sdbm, djb2, wt6, crc32
    }

    /// `consistent`: the ring; else the map.
    public var consistent = false
    public var function = Function.sdbm
    /// `avalanche`: the key's hash mixed again (HAProxy's `full_hash`), the default of `consistent` without a function.
    public var avalanche = false

    public init(consistent: Bool = false, function: Function = .sdbm, avalanche: Bool = false) {
        self.consistent = consistent
        self.function = function
        self.avalanche = avalanche
    }

    /// The hash of a key (a URI, a parameter's value, a header's value).
    public func hash(_ key: some Sequence<UInt8>) -> UInt32 {
        let h = HashType.hash(key, function)
        return avalanche ? HashType.fullHash(h) : h
    }

    /// `balance source`: the address's 32-bit words XORed (in network order; IPv4 is one word), not hashed by the
    /// function.
    public func hash(address: [UInt8]) -> UInt32 {
        var h: UInt32 = 0
        var i = 0
        while i + 4 <= address.count {
            h ^= UInt32(address[i]) << 24 | UInt32(address[i + 1]) << 16 | UInt32(address[i + 2]) << 8
                | UInt32(address[i + 3])
            i += 4
        }
        return avalanche ? HashType.fullHash(h) : h
    }

    static func hash(_ key: some Sequence<UInt8>, _ function: Function) -> UInt32 {
        switch function {
        case .sdbm:
            var h: UInt32 = 0
            for c in key { h = UInt32(c) &+ (h << 6) &+ (h << 16) &- h }
            return h
        case .djb2:
            var h: UInt32 = 5381
            for c in key { h = (h << 5) &+ h &+ UInt32(c) }
            return h
        case .wt6:
            var h0: UInt32 = 0xa53c_965a
            var h1: UInt32 = 0x5ca6_953a
            var step0: UInt32 = 6
            var step1: UInt32 = 18
            for c in key {
                var t = UInt32(c)
                h0 = ~(h0 ^ t)
                h1 = ~(h1 &+ t)
                t = (h1 << step0) | (h1 >> (32 - step0))
                h1 = (h0 << step1) | (h0 >> (32 - step1))
                h0 = t
                t = ((h0 >> 16) ^ h1) & 0xffff
                step0 = t & 0x1F
                step1 = t >> 11
            }
            return h0 ^ h1
        case .crc32:
            var h: UInt32 = ~0
            for c in key {
                h ^= UInt32(c)
                for _ in 0..<8 { h = (h >> 1) ^ ((h & 1) != 0 ? 0xedb8_8320 : 0) }
            }
            return ~h
        }
    }

    /// Bob Jenkins' full-avalanche integer hash, then a multiplication by a large prime (HAProxy's `full_hash`).
    public static func fullHash(_ value: UInt32) -> UInt32 {
        var a = value
        a = (a &+ 0x7ed5_5d16) &+ (a << 12)
        a = (a ^ 0xc761_c23c) ^ (a >> 19)
        a = (a &+ 0x1656_67b1) &+ (a << 5)
        a = (a &+ 0xd3a2_646c) ^ (a << 9)
        a = (a &+ 0xfd70_46c5) &+ (a << 3)
        a = (a ^ 0xb55a_4f09) ^ (a >> 16)
        return a &* 3_221_225_473
    }
}

/// What `balance uri|url_param|hdr` hashes, read from a request.
public enum HashInput: Hashable, Sendable {
    /// `balance uri [len N] [depth N] [whole] [path-only]`.
    case uri(length: Int, depth: Int, whole: Bool, pathOnly: Bool)
    /// `balance url_param NAME`: the parameter's value in the query string.
    case urlParameter(String)
    /// `balance hdr(NAME) [use_domain_only]`: the header's first value.
    case header(String, domainOnly: Bool)

    /// The bytes hashed for a request with `uri` and (for `hdr`) the header's first value; nil when the request
    /// has none (the session then goes round robin, as HAProxy sends it).
    public func key(uri: Substring, header: Substring?) -> ArraySlice<UInt8>? {
        switch self {
        case .uri(let length, let depth, let whole, let pathOnly):
            var bytes = ArraySlice(Array(uri.utf8))
            if pathOnly { bytes = HashInput.path(of: bytes) }
            if length > 0 { bytes = bytes.prefix(length) }
            var slashes = 0
            var end = bytes.startIndex
            while end < bytes.endIndex {
                let c = bytes[end]
                if c == 0x2F {
                    slashes += 1
                    if slashes == depth + 1 && depth > 0 { break }
                } else if c == 0x3F && !whole {
                    break
                }
                end += 1
            }
            return bytes[bytes.startIndex..<end]
        case .urlParameter(let name):
            let bytes = Array(uri.utf8)
            guard let mark = bytes.firstIndex(of: 0x3F) else { return nil }
            let wanted = Array(name.utf8)
            for parameter in bytes[(mark + 1)...].split(separator: 0x26, omittingEmptySubsequences: false)
            where parameter.count > wanted.count && parameter.starts(with: wanted)
                && parameter[parameter.startIndex + wanted.count] == 0x3D
            {
                return parameter[(parameter.startIndex + wanted.count + 1)...]
            }
            return nil
        case .header(_, let domainOnly):
            guard let header, !header.isEmpty else { return nil }
            let bytes = ArraySlice(Array(header.utf8))
            guard domainOnly else { return bytes }
            // The name before the last dot, back to the dot before it (`www.example.com` → `example`).
            guard let lastDot = bytes.lastIndex(of: 0x2E) else { return bytes[bytes.startIndex..<bytes.startIndex] }
            let start = bytes[..<lastDot].lastIndex(of: 0x2E).map { $0 + 1 } ?? bytes.startIndex
            return bytes[start..<lastDot]
        }
    }

    /// An absolute URI's path (`http://h/p?q` → `/p?q`); an origin-form one as it is.
    static func path(of uri: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard uri.first != 0x2F, let colon = uri.firstIndex(of: 0x3A), uri[colon...].starts(with: Array("://".utf8))
        else { return uri }
        let authority = colon + 3
        return uri[authority...].firstIndex(of: 0x2F).map { uri[$0...] } ?? uri[uri.endIndex...]
    }
}

/// HAProxy's map of servers by weight (`lb_map.c`): each usable server appears its weight's number of times
/// (weights divided by their greatest common divisor), spread so that the first declared comes first; a hash
/// picks entry `hash % total`.
struct ServerMap: Equatable {
    /// The servers (indices) and their map weights it was built for.
    let weights: [Weight]
    let entries: [Int]

    struct Weight: Equatable {
        let server: Int
        let weight: Int
    }

    init(_ weights: [Weight]) {
        self.weights = weights
        let total = weights.reduce(0) { $0 + $1.weight }
        var entries: [Int] = []
        entries.reserveCapacity(total)
        var score = Array(repeating: 0, count: weights.count)
        for _ in 0..<total {
            var best: Int?
            var max = 0
            for (k, w) in weights.enumerated() where w.weight > 0 {
                if total == 1 {
                    best = k
                    break
                }
                score[k] += w.weight
                let v = (score[k] + total) / total
                if best == nil || v > max {
                    max = v
                    best = k
                }
            }
            guard let best else { break }
            entries.append(weights[best].server)
            score[best] -= total
        }
        self.entries = entries
    }

    func server(for hash: UInt32) -> Int? {
        entries.isEmpty ? nil : entries[Int(hash % UInt32(entries.count))]
    }
}

/// HAProxy's consistent-hashing ring (`lb_chash.c`): server `puid` with weight `w` stands at the points
/// `full_hash(puid × 4096 + n)` for `n` below `w × 16`; a hash goes to the nearer of the points around it (the one
/// before it on a tie).
struct ConsistentRing: Equatable {
    let weights: [Member]
    private let points: [(key: UInt32, server: Int)]

    struct Member: Equatable {
        let server: Int
        let puid: Int
        let weight: Int
    }

    static func == (a: ConsistentRing, b: ConsistentRing) -> Bool { a.weights == b.weights }

    init(_ members: [Member]) {
        weights = members
        var points: [(key: UInt32, server: Int)] = []
        for m in members {
            for n in 0..<(m.weight * 16) {
                points.append((HashType.fullHash(UInt32(truncatingIfNeeded: m.puid * 4096 + n)), m.server))
            }
        }
        // Equal keys stay in insertion order (declaration order), as the tree keeps duplicates.
        self.points = points.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
            .map(\.element)
    }

    func server(for hash: UInt32) -> Int? {
        guard !points.isEmpty else { return nil }
        // The first point at or after the hash (wrapping), and the one before it.
        var low = 0
        var high = points.count
        while low < high {
            let mid = (low + high) / 2
            if points[mid].key < hash { low = mid + 1 } else { high = mid }
        }
        let next = low == points.count ? 0 : low
        let previous = next == 0 ? points.count - 1 : next - 1
        let before = hash &- points[previous].key
        let after = points[next].key &- hash
        return before <= after ? points[previous].server : points[next].server
    }
}
