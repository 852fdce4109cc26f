import CDatagrams
import Testing

@testable import Proxy

#if canImport(Glibc)
    import Glibc
#endif

/// The descriptor plumbing of seamless reloads (`-x`, `_getsocks`): listening sockets made as the binds want them,
/// passed over a UNIX socket with HAProxy's framing, and found again by their address.
@Suite("Listener hand-off")
struct ListenerHandoffTests {
    @Test func listeningSocketsPassAndKeepTheirAddress() throws {
        let ports = [try freePort(), try freePort()]
        let listeners = ports.map { tollgate_tcp_listener("127.0.0.1", Int32($0), -1, 16) }
        defer { for fd in listeners where fd >= 0 { close(fd) } }
        #expect(listeners.allSatisfy { $0 >= 0 })
        // A name that does not resolve: no socket.
        #expect(tollgate_tcp_listener("no-such-host.invalid", 80, -1, 16) == -1)
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { for fd in pair { close(fd) } }
        #expect(ListenerHandoff.send(listeners, on: pair[0]))
        var count: Int32 = 0
        #expect(withUnsafeMutableBytes(of: &count) { recv(pair[1], $0.baseAddress, 4, 0) } == 4)
        #expect(count == 2)
        var fds = [Int32](repeating: -1, count: 4)
        var received: Int32 = 0
        var data = [UInt8](repeating: 0xFF, count: 64)
        let got = data.withUnsafeMutableBytes { tollgate_recv_fds(pair[1], &fds, 4, &received, $0.baseAddress, UInt($0.count)) }
        #expect(got == 12 && received == 2)
        // Empty namespace and interface names, four zero bytes, for each.
        #expect(Array(data.prefix(12)) == Array(repeating: 0, count: 12))
        for (i, fd) in fds.prefix(2).enumerated() {
            var ip = [CChar](repeating: 0, count: 64)
            var port: Int32 = 0
            #expect(tollgate_socket_name(fd, &ip, UInt(ip.count), &port) == 0)
            #expect(Int(port) == ports[i])
            // The same socket: it accepts a connection made to the port.
            #expect(fd != listeners[i])
            close(fd)
        }
        #expect(ListenerHandoff.send(Array(repeating: listeners[0], count: 254), on: pair[0]) == false)
    }

    @Test func fetchingFromNothingSaysWhy() {
        #expect(throws: ListenerHandoff.Failure.self) { try ListenerHandoff.fetch(from: "/nonexistent/dir/x.sock") }
    }

    func freePort() throws -> Int {
        let fd = tollgate_tcp_listener("127.0.0.1", 0, -1, 1)
        defer { close(fd) }
        var ip = [CChar](repeating: 0, count: 64)
        var port: Int32 = 0
        _ = tollgate_socket_name(fd, &ip, UInt(ip.count), &port)
        return Int(port)
    }
}
