import LogCore

/// A data type a stick table stores (`store …`), in HAProxy 2.6's order (its `show table` lists them so).
public enum StickData: Int, CaseIterable, Hashable, Sendable, Comparable {
    case serverID, gpt0, gpc0, gpc0Rate, connCount, connRate, connCurrent, sessCount, sessRate, httpReqCount,
        httpReqRate, httpErrCount, httpErrRate, bytesInCount, bytesInRate, bytesOutCount, bytesOutRate, gpc1,
        gpc1Rate, httpFailCount, httpFailRate

    public static func < (a: StickData, b: StickData) -> Bool { a.rawValue < b.rawValue }

    /// HAProxy's name (`store` and `show table`).
    public var name: String {
        switch self {
        case .serverID: "server_id"
        case .gpt0: "gpt0"
        case .gpc0: "gpc0"
        case .gpc0Rate: "gpc0_rate"
        case .connCount: "conn_cnt"
        case .connRate: "conn_rate"
        case .connCurrent: "conn_cur"
        case .sessCount: "sess_cnt"
        case .sessRate: "sess_rate"
        case .httpReqCount: "http_req_cnt"
        case .httpReqRate: "http_req_rate"
        case .httpErrCount: "http_err_cnt"
        case .httpErrRate: "http_err_rate"
        case .bytesInCount: "bytes_in_cnt"
        case .bytesInRate: "bytes_in_rate"
        case .bytesOutCount: "bytes_out_cnt"
        case .bytesOutRate: "bytes_out_rate"
        case .gpc1: "gpc1"
        case .gpc1Rate: "gpc1_rate"
        case .httpFailCount: "http_fail_cnt"
        case .httpFailRate: "http_fail_rate"
        }
    }

    public static let byName: [String: StickData] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })

    /// A rate over a period (`NAME(PERIOD)`), kept as a `FreqCounter`.
    public var isRate: Bool {
        switch self {
        case .gpc0Rate, .connRate, .sessRate, .httpReqRate, .httpErrRate, .bytesInRate, .bytesOutRate, .gpc1Rate,
            .httpFailRate:
            true
        default: false
        }
    }

    /// A 64-bit counter (the byte counts).
    var isWide: Bool { self == .bytesInCount || self == .bytesOutCount }

    /// 32-bit words one entry holds for it.
    var words: Int { isRate ? 3 : isWide ? 2 : 1 }
}

/// `stick-table type ip|ipv6|integer|string [len N]|binary [len N] size N [expire T] [nopurge] [store …]`: what a
/// table keys on and keeps, as a section declares it.
public struct StickTableSchema: Hashable, Sendable {
    public enum KeyType: String, Hashable, Sendable {
        case ip, ipv6, integer, string, binary
    }
    /// The table's name: its section's.
    public var name: String
    public var keyType: KeyType
    /// `len` of a string or binary key (HAProxy's default: 32).
    public var keyLength: Int = 32
    /// Whether `len` was written (a string key then has room for `len` bytes and its NUL; by default, 32 with it).
    public var explicitLength = false
    /// `peers NAME`: the `peers` section the table is shared through.
    public var peers: String?
    /// The name the peers protocol knows it by: a proxy's table its proxy's name, a `peers` section's `TABLE` (not
    /// `SECTION/TABLE`).
    public var sharedName: String {
        guard let slash = name.firstIndex(of: "/") else { return name }
        return String(name[name.index(after: slash)...])
    }
    /// HAProxy's key size, as the peers protocol announces it: 4 (ip, integer), 16 (ipv6), a string's `len` and its
    /// NUL, a binary's `len`.
    public var wireKeySize: Int {
        switch keyType {
        case .ip, .integer: 4
        case .ipv6: 16
        case .string: explicitLength ? keyLength + 1 : keyLength
        case .binary: keyLength
        }
    }
    /// Entries at most (`size`, with HAProxy's k/m/g suffixes).
    public var size: Int
    /// `expire`: an entry not touched for this long (milliseconds) is removed; nil: never (only evicted).
    public var expire: UInt32?
    /// `nopurge`: a full table keeps its entries and takes no new key.
    public var noPurge = false
    /// The data stored, and each rate's period in milliseconds (0 for the others).
    public var stored: [StickData: UInt32] = [:]
    /// `server_key`: the server's name, kept beside `server_id` when `stick` rules use the table (as HAProxy 2.6).
    public var storesServerKey = false
    public var location: SourceLocation

    public init(name: String, keyType: KeyType, size: Int, location: SourceLocation) {
        self.name = name
        self.keyType = keyType
        self.size = size
        self.location = location
    }

    /// The key's name as `show table` prints the type (HAProxy's `stktable_types`).
    public var typeName: String { keyType == .integer ? "integer" : keyType.rawValue }
}

/// A key of a stick table, made from a sample by the table's type (`StickTableSchema.key`).
enum StickKey: Hashable, Sendable {
    /// `ip` (an IPv4 address as its 32 bits), `ipv6` (128 bits, IPv4 clients mapped), `integer` (32 bits).
    case number(UInt128)
    /// `string` (its bytes, cut at `len`) and `binary` (cut at, and padded with zeros to, `len`) of up to 15 bytes,
    /// held inline (no allocation per entry): the bytes from the top, their count in the lowest byte.
    case short(UInt128)
    /// Longer ones.
    case long([UInt8])

    /// The key of `bytes` (inline when they fit: one form per value, so equal keys compare equal).
    static func bytes(_ bytes: [UInt8]) -> StickKey {
        guard bytes.count <= 15 else { return .long(bytes) }
        var packed = UInt128(bytes.count)
        for (i, b) in bytes.enumerated() { packed |= UInt128(b) << (120 - 8 * UInt128(i)) }
        return .short(packed)
    }

    /// A string or binary key's bytes (nil for a number).
    var byteValue: [UInt8]? {
        switch self {
        case .number: return nil
        case .long(let bytes): return bytes
        case .short(let packed):
            let count = Int(packed & 0xFF)
            return (0..<count).map { UInt8(truncatingIfNeeded: packed >> (120 - 8 * UInt128($0))) }
        }
    }
}

/// A sample a key is made from: what a `track-sc` or `stick` expression fetched.
enum StickSample: Equatable {
    /// An address, IPv4 mapped into IPv6 as `AddressSet` keeps it.
    case address(UInt128)
    case integer(Int64)
    case text([UInt8])
    case binary([UInt8])
}

extension StickTableSchema {
    /// The key for `sample`, converted as HAProxy casts a sample to the table's type; nil when it cannot be (an
    /// IPv6 client for an `ip` table, text that is no address): the request is then not tracked.
    func key(_ sample: StickSample) -> StickKey? {
        let mappedPrefix = UInt128(0xFFFF) << 32
        switch (keyType, sample) {
        case (.ip, .address(let a)):
            return a >> 32 == 0xFFFF ? .number(a & 0xFFFF_FFFF) : nil
        case (.ip, .integer(let n)):
            return .number(UInt128(UInt32(truncatingIfNeeded: n)))
        case (.ip, .text(let t)):
            guard let a = AddressSet.address(String(decoding: t, as: UTF8.self)), a >> 32 == 0xFFFF else {
                return nil
            }
            return .number(a & 0xFFFF_FFFF)
        case (.ipv6, .address(let a)):
            return .number(a)
        case (.ipv6, .text(let t)):
            return AddressSet.address(String(decoding: t, as: UTF8.self)).map { .number($0) }
        case (.ipv6, .integer(let n)):
            return .number(mappedPrefix | UInt128(UInt32(truncatingIfNeeded: n)))
        case (.integer, .integer(let n)):
            return .number(UInt128(UInt32(truncatingIfNeeded: n)))
        case (.integer, .address(let a)):
            return a >> 32 == 0xFFFF ? .number(a & 0xFFFF_FFFF) : nil
        case (.integer, .text(let t)):
            // HAProxy reads the leading digits (a sign allowed); text without any is no key.
            let s = String(decoding: t, as: UTF8.self)
            let digits = s.prefix { $0.isNumber || $0 == "-" || $0 == "+" }
            return Int64(digits).map { .number(UInt128(UInt32(truncatingIfNeeded: $0))) }
        case (.string, .address(let a)):
            return .bytes(Array(StickKeyText.address(a).utf8.prefix(keyLength)))
        case (.string, .integer(let n)):
            return .bytes(Array(String(n).utf8.prefix(keyLength)))
        case (.string, .text(let t)), (.string, .binary(let t)):
            // A string key ends at its first NUL, as a C string.
            return .bytes(Array(t.prefix { $0 != 0 }.prefix(keyLength)))
        case (.binary, .text(let t)), (.binary, .binary(let t)):
            return .bytes(Self.padded(t, keyLength))
        case (.binary, .address(let a)):
            return .bytes(Self.padded(StickKeyText.bytes(a), keyLength))
        case (.binary, .integer(let n)):
            return .bytes(Self.padded(withUnsafeBytes(of: n.bigEndian) { Array($0) }, keyLength))
        case (.ipv6, .binary), (.ip, .binary), (.integer, .binary):
            return nil
        }
    }

    private static func padded(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        var out = Array(bytes.prefix(length))
        if out.count < length { out += repeatElement(0, count: length - out.count) }
        return out
    }

    /// A key as `show table` prints it (`key=`).
    func text(_ key: StickKey) -> String {
        switch (keyType, key) {
        case (.ip, .number(let n)): return StickKeyText.address(UInt128(0xFFFF) << 32 | n)
        case (.ipv6, .number(let n)): return StickKeyText.ipv6(n)
        case (.integer, .number(let n)): return String(UInt32(truncatingIfNeeded: n))
        case (_, .number(let n)): return String(n)
        case (.string, _): return StickKeyText.dumpText(key.byteValue ?? [])
        case (_, _): return StickKeyText.dumpBinary(key.byteValue ?? [])
        }
    }
}

/// Addresses and keys as text, as HAProxy writes them.
enum StickKeyText {
    /// An IPv4 address (mapped) in dotted form, any other in IPv6 form.
    static func address(_ a: UInt128) -> String {
        if a >> 32 == 0xFFFF {
            let v = UInt32(truncatingIfNeeded: a)
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        }
        return ipv6(a)
    }

    /// `inet_ntop`'s IPv6 form: the longest run of two or more zero groups as `::`, an IPv4-mapped tail dotted.
    static func ipv6(_ a: UInt128) -> String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: a >> (112 - 16 * UInt128($0))) }
        if a >> 32 == 0xFFFF { return "::ffff:" + address(a) }
        var best = (start: -1, length: 0)
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else {
                i += 1
                continue
            }
            var j = i
            while j < 8 && groups[j] == 0 { j += 1 }
            if j - i > best.length && j - i >= 2 { best = (i, j - i) }
            i = j
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        guard best.start >= 0 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }

    static func bytes(_ a: UInt128) -> [UInt8] {
        if a >> 32 == 0xFFFF { return withUnsafeBytes(of: UInt32(truncatingIfNeeded: a).bigEndian) { Array($0) } }
        return withUnsafeBytes(of: a.bigEndian) { Array($0) }
    }

    /// HAProxy's `dump_text`: printable bytes as they are, the others escaped.
    static func dumpText(_ bytes: [UInt8]) -> String {
        var out = ""
        for b in bytes {
            switch b {
            case 0x20..<0x7F where b != UInt8(ascii: "\\") && b != UInt8(ascii: " ") && b != UInt8(ascii: "="):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: " "), UInt8(ascii: "="), UInt8(ascii: "\\"):
                out += "\\" + String(Unicode.Scalar(b))
            case UInt8(ascii: "\t"): out += "\\t"
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\r"): out += "\\r"
            case 0x1B: out += "\\e"
            default: out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }
        }
        return out
    }

    /// HAProxy's `dump_binary`: every byte as two upper-case hex digits.
    static func dumpBinary(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined()
    }
}
