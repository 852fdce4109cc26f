import NIOCore
import Testing

@testable import Proxy

/// The PROXY protocol's headers, read and written as HAProxy 2.6 does (doc/proxy-protocol.txt's examples).
@Suite("PROXY protocol")
struct ProxyProtocolTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func readsVersion1() throws {
        let h = try ProxyProtocol.parse(Self.bytes("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /")).get()
        #expect(h.source == (try SocketAddress(ipAddress: "192.168.0.1", port: 56324)))
        #expect(h.destination == (try SocketAddress(ipAddress: "192.168.0.11", port: 443)))
        #expect(h.length == 47)
        let six = try ProxyProtocol.parse(Self.bytes("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n")).get()
        #expect(six.source?.ipAddress == "2001:db8::1" && six.destination?.port == 2)
        let unknown = try ProxyProtocol.parse(Self.bytes("PROXY UNKNOWN\r\n")).get()
        #expect(unknown.source == nil && unknown.length == 15)
    }

    @Test(
        "what HAProxy refuses, with its reason",
        arguments: [
            ("GARBAGE\r\nhello", ProxyProtocol.Problem.truncated),
            ("GARBAGE-GARBAGE-GARBAGE\r\n", .notAHeader),
            ("PROXY TCP5 1 2 3 4\r\n", .unhandledProtocol),
            ("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", .unhandledProtocol),
            ("PROXY TCP4 192.0.2.7", .truncated),
            ("PROXY TCP4 192.0.2.7 192.0.2.8 1 70000\r\n", .invalid),
            ("PROXY TCP4 2001:db8::1 192.0.2.8 1 2\r\n", .invalid),
            ("PROXY TCP4 192.0.2.7 192.0.2.8 1 2\rX", .invalid),
        ])
    func refused(text: String, problem: ProxyProtocol.Problem) {
        #expect(ProxyProtocol.parse(Self.bytes(text)) == .failure(problem))
    }

    @Test func readsVersion2() throws {
        let v4 =
            ProxyProtocol.v2Signature + [0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 8, 198, 51, 100, 9, 0x15, 0xB3, 0x01, 0xBB]
        let h = try ProxyProtocol.parse(v4 + Self.bytes("hi")).get()
        #expect(h.source == (try SocketAddress(ipAddress: "192.0.2.8", port: 5555)))
        #expect(h.destination == (try SocketAddress(ipAddress: "198.51.100.9", port: 443)))
        #expect(h.length == 28)
        // LOCAL: the connection's own addresses.
        let local = try ProxyProtocol.parse(ProxyProtocol.v2Signature + [0x20, 0x00, 0x00, 0x00]).get()
        #expect(local.source == nil && local.length == 16)
        #expect(ProxyProtocol.parse(Array(v4.prefix(20))) == .failure(.truncated))
        #expect(ProxyProtocol.parse(ProxyProtocol.v2Signature + [0x31, 0x11, 0, 0]) == .failure(.notAHeader))
    }

    @Test func writesBothVersionsAndReadsThemBack() throws {
        let s = try SocketAddress(ipAddress: "192.0.2.7", port: 5555)
        let d = try SocketAddress(ipAddress: "198.51.100.9", port: 443)
        #expect(
            ProxyProtocol.header(.v1, source: s, destination: d)
                == Self.bytes("PROXY TCP4 192.0.2.7 198.51.100.9 5555 443\r\n"))
        for version in [ProxyProtocol.Version.v1, .v2] {
            let h = try ProxyProtocol.parse(ProxyProtocol.header(version, source: s, destination: d)).get()
            #expect(h.source == s && h.destination == d)
        }
        let s6 = try SocketAddress(ipAddress: "2001:db8::7", port: 1)
        let d6 = try SocketAddress(ipAddress: "2001:db8::9", port: 2)
        let h6 = try ProxyProtocol.parse(ProxyProtocol.header(.v2, source: s6, destination: d6)).get()
        #expect(h6.source == s6 && h6.destination == d6)
        // Families that differ, or no address: UNKNOWN / LOCAL.
        #expect(ProxyProtocol.header(.v1, source: s, destination: d6) == Self.bytes("PROXY UNKNOWN\r\n"))
        #expect(ProxyProtocol.header(.v2, source: nil, destination: d) == ProxyProtocol.v2Signature + [0x20, 0, 0, 0])
    }
}
