/// An IPv4 or IPv6 address or network (`10.0.0.0/8`, `2001:db8::/32`, `::1`): logquery's `--client`, the sink's
/// `$AllowedSender`.
public struct AddressMatcher: Hashable, Sendable, CustomStringConvertible {
    let address: [UInt8]
    let prefixLength: Int
    public let description: String

    /// nil when `text` is not an address or network.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let address = AddressMatcher.parse(Array(first.utf8)) else { return nil }
        let bits = address.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...bits).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = bits
        }
        self.address = address
        description = text
    }

    public func matches(_ text: String) -> Bool {
        var copy = text
        return copy.withUTF8 { matches($0) }
    }

    public func matches(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let candidate = AddressMatcher.parse(Array(text)), candidate.count == address.count else { return false }
        var remaining = prefixLength
        for i in 0..<address.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if candidate[i] & mask != address[i] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// The address bytes of a dotted IPv4 (4 bytes) or colon IPv6 (16 bytes) text; nil for anything else.
    public static func addressBytes(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? { parse(Array(text)) }

    /// The address bytes of a dotted IPv4 or colon IPv6 text (`::` allowed, an IPv4 tail too); nil otherwise.
    static func parse(_ t: [UInt8]) -> [UInt8]? {
        if !t.contains(0x3A) { return parseIPv4(t[...]) }
        // Split at the one `::` (if any) into the groups before and after it.
        var left = t[...]
        var right: ArraySlice<UInt8>? = nil
        if let gap = (0..<max(0, t.count - 1)).first(where: { t[$0] == 0x3A && t[$0 + 1] == 0x3A }) {
            left = t[..<gap]
            right = t[(gap + 2)...]
        }
        func groups(_ part: ArraySlice<UInt8>) -> [ArraySlice<UInt8>]? {
            if part.isEmpty { return [] }
            let g = part.split(separator: 0x3A, omittingEmptySubsequences: false)
            return g.contains(where: \.isEmpty) ? nil : g
        }
        guard var before = groups(left), var after = groups(right ?? []) else { return nil }
        // An IPv4 tail stands for the last two groups.
        var tail: [UInt8] = []
        if right != nil, let last = after.last, last.contains(0x2E) {
            guard let v4 = parseIPv4(last) else { return nil }
            tail = v4
            after.removeLast()
        } else if right == nil, let last = before.last, last.contains(0x2E) {
            guard let v4 = parseIPv4(last) else { return nil }
            tail = v4
            before.removeLast()
        }
        func words(_ g: [ArraySlice<UInt8>]) -> [UInt16]? {
            var out: [UInt16] = []
            for x in g {
                guard x.count <= 4, let v = UInt16(String(decoding: x, as: UTF8.self), radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = words(before), let rest = words(after) else { return nil }
        let used = head.count + rest.count + tail.count / 2
        if right == nil {
            guard used == 8 else { return nil }
        } else {
            guard used < 8 else { return nil }
        }
        let all = head + [UInt16](repeating: 0, count: 8 - used) + rest
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } + tail
    }

    static func parseIPv4(_ t: ArraySlice<UInt8>) -> [UInt8]? {
        guard let read = t.withContiguousStorageIfAvailable({ ipv4($0) }), let v = read else { return nil }
        return [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    /// A dotted IPv4 address (four parts of one to three digits, each at most 255) as its 32 bits, read in place;
    /// nil for anything else.
    public static func ipv4(_ t: UnsafeBufferPointer<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var dots = 0
        for c in t {
            if c == 0x2E {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | part
                part = 0
                digits = 0
                dots += 1
            } else if c >= 0x30 && c <= 0x39 {
                part = part * 10 + UInt32(c - 0x30)
                digits += 1
                guard part <= 255, digits <= 3 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return value << 8 | part
    }
}
