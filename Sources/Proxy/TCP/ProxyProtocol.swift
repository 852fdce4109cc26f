import NIOCore

/// The PROXY protocol (HAProxy's doc/proxy-protocol.txt), versions 1 and 2: reading the header a load balancer in
/// front sends (`bind … accept-proxy`), as HAProxy 2.6 reads it — from the first bytes that arrive, which must hold
/// the whole header — and writing the one a server behind expects (`server … send-proxy|send-proxy-v2`).
public enum ProxyProtocol {
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    public enum Version: Hashable, Sendable {
        case v1, v2
    }

    /// A header read: the client's and the frontend's addresses it gives (nil for `UNKNOWN` and v2's `LOCAL`:
    /// the connection's own then), and its length.
    public struct Header: Equatable, Sendable {
        public var source: SocketAddress?
        public var destination: SocketAddress?
        public var length: Int
    }

    /// Why a connection's first bytes are not a header, in HAProxy's words.
    public enum Problem: String, Error, Equatable {
        case truncated = "Truncated PROXY protocol header received"
        case notAHeader = "Received something which does not look like a PROXY protocol header"
        case invalid = "Received an invalid PROXY protocol header"
        case unhandledProtocol = "Received an unhandled protocol in the PROXY protocol header"
        case closed = "Connection closed while waiting for PROXY protocol header"
        case timeout = "Timeout while waiting for PROXY protocol header"
    }

    /// Reads the header at the start of `bytes` (what the connection's first read gave).
    public static func parse(_ bytes: [UInt8]) -> Result<Header, Problem> {
        guard bytes.count >= 6 else { return .failure(.truncated) }
        if bytes.starts(with: Array("PROXY ".utf8)) { return parseV1(bytes) }
        guard bytes.count >= 16 else { return .failure(.truncated) }
        guard bytes.starts(with: v2Signature), bytes[12] & 0xF0 == 0x20 else { return .failure(.notAHeader) }
        let length = 16 + (Int(bytes[14]) << 8 | Int(bytes[15]))
        guard bytes.count >= length else { return .failure(.truncated) }
        switch bytes[12] & 0x0F {
        case 0x00:
            return .success(Header(source: nil, destination: nil, length: length))
        case 0x01:
            switch bytes[13] {
            case 0x11:
                guard length >= 16 + 12 else { return .failure(.invalid) }
                let src = Array(bytes[16..<20])
                let dst = Array(bytes[20..<24])
                let sport = Int(bytes[24]) << 8 | Int(bytes[25])
                let dport = Int(bytes[26]) << 8 | Int(bytes[27])
                return .success(
                    Header(source: address(v4: src, port: sport), destination: address(v4: dst, port: dport), length: length))
            case 0x21:
                guard length >= 16 + 36 else { return .failure(.invalid) }
                let sport = Int(bytes[48]) << 8 | Int(bytes[49])
                let dport = Int(bytes[50]) << 8 | Int(bytes[51])
                return .success(
                    Header(
                        source: address(v6: Array(bytes[16..<32]), port: sport),
                        destination: address(v6: Array(bytes[32..<48]), port: dport), length: length))
            default:
                // Other families (UNIX, UDP, unspecified): the connection's own addresses, as HAProxy.
                return .success(Header(source: nil, destination: nil, length: length))
            }
        default:
            return .failure(.invalid)
        }
    }

    private static func parseV1(_ bytes: [UInt8]) -> Result<Header, Problem> {
        // At most 107 bytes, ending in CRLF.
        guard let cr = bytes.prefix(107).firstIndex(of: 0x0D) else {
            return bytes.count >= 107 ? .failure(.invalid) : .failure(.truncated)
        }
        guard cr + 1 < bytes.count else { return .failure(.truncated) }
        guard bytes[cr + 1] == 0x0A else { return .failure(.invalid) }
        let line = String(decoding: bytes[6..<cr], as: UTF8.self)
        let length = cr + 2
        // HAProxy 2.6 takes `UNKNOWN` alone (the addresses the specification allows after it are refused).
        if line == "UNKNOWN" {
            return .success(Header(source: nil, destination: nil, length: length))
        }
        let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard let family = words.first, family == "TCP4" || family == "TCP6" else {
            return .failure(.unhandledProtocol)
        }
        guard words.count == 5, let sport = Int(words[3]), let dport = Int(words[4]), (0...65535).contains(sport),
            (0...65535).contains(dport), words[3].allSatisfy(\.isASCII), words[4].allSatisfy(\.isASCII)
        else { return .failure(.invalid) }
        guard let source = try? SocketAddress(ipAddress: words[1], port: sport),
            let destination = try? SocketAddress(ipAddress: words[2], port: dport),
            (family == "TCP4") == (source.protocol == .inet), (family == "TCP4") == (destination.protocol == .inet)
        else { return .failure(.invalid) }
        return .success(Header(source: source, destination: destination, length: length))
    }

    private static func address(v4 bytes: [UInt8], port: Int) -> SocketAddress? {
        try? SocketAddress(ipAddress: bytes.map(String.init).joined(separator: "."), port: port)
    }

    private static func address(v6 bytes: [UInt8], port: Int) -> SocketAddress? {
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(String(Int(bytes[i]) << 8 | Int(bytes[i + 1]), radix: 16)) }
        return try? SocketAddress(ipAddress: groups.joined(separator: ":"), port: port)
    }

    /// The header a server gets for a client at `source` that came to `destination` (`UNKNOWN` / `LOCAL` when
    /// either is not an IP address, or their families differ).
    public static func header(_ version: Version, source: SocketAddress?, destination: SocketAddress?) -> [UInt8] {
        let pair: (SocketAddress, SocketAddress)? = {
            guard let source, let destination, source.protocol == destination.protocol,
                source.protocol == .inet || source.protocol == .inet6
            else { return nil }
            return (source, destination)
        }()
        switch version {
        case .v1:
            guard let (s, d) = pair, let sip = s.ipAddress, let dip = d.ipAddress else {
                return Array("PROXY UNKNOWN\r\n".utf8)
            }
            let family = s.protocol == .inet ? "TCP4" : "TCP6"
            return Array("PROXY \(family) \(sip) \(dip) \(s.port ?? 0) \(d.port ?? 0)\r\n".utf8)
        case .v2:
            guard let (s, d) = pair else { return v2Signature + [0x20, 0x00, 0x00, 0x00] }
            var body: [UInt8] = []
            let family: UInt8
            switch (s, d) {
            case (.v4(let a), .v4(let b)):
                family = 0x11
                body += withUnsafeBytes(of: a.address.sin_addr.s_addr) { Array($0) }
                body += withUnsafeBytes(of: b.address.sin_addr.s_addr) { Array($0) }
            case (.v6(let a), .v6(let b)):
                family = 0x21
                body += withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
                body += withUnsafeBytes(of: b.address.sin6_addr) { Array($0) }
            default:
                return v2Signature + [0x20, 0x00, 0x00, 0x00]
            }
            for port in [s.port ?? 0, d.port ?? 0] { body += [UInt8(port >> 8 & 0xFF), UInt8(port & 0xFF)] }
            return v2Signature + [0x21, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        }
    }
}
