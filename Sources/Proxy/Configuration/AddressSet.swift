#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The addresses of an `src` ACL (`src 10.0.0.0/8 192.0.2.7 2001:db8::/32`, `src -f blocklist.ips`): IPv4 and IPv6
/// networks, merged into sorted disjoint ranges when the file is read, so that a lookup is a binary search
/// whatever the list's length (a 10,000-line blocklist costs 14 comparisons, not 10,000). An IPv4 address is kept
/// as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so that one range type serves both families, as a client
/// connected over IPv6 with a mapped address is the IPv4 client it names.
public struct AddressSet: Hashable, Sendable {
    private var starts: [UInt128] = []
    private var ends: [UInt128] = []

    public init() {}

    /// The set of `patterns` (`ADDR` or `ADDR/BITS`, IPv4 or IPv6; an IPv4 mask may also be written dotted), or
    /// the first pattern that is none of those.
    public static func parse(_ patterns: [String]) -> Result<AddressSet, PatternError> {
        var ranges: [(UInt128, UInt128)] = []
        for pattern in patterns {
            guard let range = range(pattern) else { return .failure(PatternError(pattern: pattern)) }
            ranges.append(range)
        }
        ranges.sort { $0.0 < $1.0 }
        var set = AddressSet()
        for (start, end) in ranges {
            // Overlapping or adjacent ranges become one.
            if let last = set.ends.last, last == .max || start <= last + 1 {
                set.ends[set.ends.count - 1] = max(last, end)
            } else {
                set.starts.append(start)
                set.ends.append(end)
            }
        }
        return .success(set)
    }

    public struct PatternError: Error, Equatable {
        public let pattern: String
    }

    public var isEmpty: Bool { starts.isEmpty }

    /// Whether `address` (IPv6 form, see the type) lies in the set.
    public func contains(_ address: UInt128) -> Bool {
        // The last range starting at or before `address`.
        var low = 0
        var high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if starts[middle] <= address { low = middle + 1 } else { high = middle }
        }
        return low > 0 && address <= ends[low - 1]
    }

    /// `text` as an address in the set's form, nil when it is not an IPv4 or IPv6 address.
    public static func address(_ text: String) -> UInt128? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return mapped(UInt32(bigEndian: v4.s_addr)) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { raw in raw.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }
        }
        return nil
    }

    /// An address given as its bytes in network order (4: IPv4, 16: IPv6) in the set's form; nil for another length.
    public static func address(bytes: [UInt8]) -> UInt128? {
        switch bytes.count {
        case 4: return mapped(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16: return bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        default: return nil
        }
    }

    /// An IPv4 mask written in bits (`24`) or dotted (`255.255.255.0`), host order; nil when it is neither.
    public static func ipv4Mask(_ text: String) -> UInt32? {
        if let bits = Int(text) {
            guard (0...32).contains(bits) else { return nil }
            return bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
        }
        var v4 = in_addr()
        guard inet_pton(AF_INET, text, &v4) == 1 else { return nil }
        let mask = UInt32(bigEndian: v4.s_addr)
        // Leading ones only.
        guard (~mask) & (~mask &+ 1) == 0 else { return nil }
        return mask
    }

    /// An IPv6 address in its canonical text (`2001:db8::`).
    public static func ipv6Text(_ address: UInt128) -> String {
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { bytes in
            for i in 0..<16 { bytes[i] = UInt8(truncatingIfNeeded: address >> (8 * UInt128(15 - i))) }
        }
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &raw, &out, socklen_t(out.count)) != nil else { return "" }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An IPv4 address (host order) as its IPv4-mapped IPv6 form.
    public static func mapped(_ v4: UInt32) -> UInt128 { UInt128(0xFFFF) << 32 | UInt128(v4) }

    private static func range(_ pattern: String) -> (UInt128, UInt128)? {
        let parts = pattern.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let base = address(parts[0]) else { return nil }
        let isV4 = !parts[0].contains(":")
        var bits = isV4 ? 32 : 128
        if parts.count == 2 {
            if let n = Int(parts[1]) {
                bits = n
            } else if isV4, let mask = address(parts[1]) {
                // A dotted mask (255.255.0.0): its leading ones, if it is a mask at all.
                let m = UInt32(truncatingIfNeeded: mask)
                guard m.leadingZeroBitCount == 0 || m == 0, (~m) & (~m &+ 1) == 0 else { return nil }
                bits = m.nonzeroBitCount
            } else {
                return nil
            }
        }
        guard bits >= 0, bits <= (isV4 ? 32 : 128) else { return nil }
        let width = isV4 ? bits + 96 : bits
        let hostBits = 128 - width
        let mask: UInt128 = hostBits == 128 ? 0 : ~UInt128(0) << hostBits
        let start = base & mask
        return (start, start | ~mask)
    }
}
