import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `option prefer-last-server` and `http-reuse never` beside HAProxy 2.6 on the same two keep-alive servers: with
/// private server connections (`never`) the requests of one client connection stay on the server its first request
/// was balanced to (roundrobin otherwise alternates), a new connection is balanced again, a hash balance is left
/// alone, and a server put in maintenance between two requests is not preferred; with shared connections (HAProxy's
/// default `safe`) the option changes nothing, as in HAProxy, whose session then holds no connection to prefer.
@Suite("option prefer-last-server beside HAProxy", .serialized)
struct PreferLastServerInteropTests {
    /// The servers (`origin NAME`) that answer `count` requests sent one after the other on one connection.
    static func servedBy(port: Int, count: Int, between: (Int) throws -> Void = { _ in }) throws -> [String] {
        let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 10)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var names: [String] = []
        var pending: [UInt8] = []
        for i in 0..<count {
            try between(i)
            let request = Array("GET /\(i) HTTP/1.1\r\nHost: example\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            // One response: its head, then the Content-Length bytes of its body.
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let text = String(decoding: pending, as: UTF8.self)
                if let end = text.range(of: "\r\n\r\n"),
                    let length = text.range(of: #"(?i)content-length: *(\d+)"#, options: .regularExpression)
                        .flatMap({ Int(text[$0].split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) })
                {
                    let headBytes = text[..<end.upperBound].utf8.count
                    if pending.count >= headBytes + length {
                        let body = String(decoding: pending[headBytes..<(headBytes + length)], as: UTF8.self)
                        names.append(body.trimmingCharacters(in: .whitespacesAndNewlines))
                        pending.removeFirst(headBytes + length)
                        break
                    }
                }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard n > 0 else {
                    names.append("closed")
                    return names
                }
                pending += buffer[..<n]
            }
        }
        return names
    }

    @Test func requestsStayOnTheLastServerAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "prefer-last")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let a = try await HTTPOrigin(name: "a", port: 0)
        let b = try await HTTPOrigin(name: "b", port: 0)
        let results = try await besideHAProxy(ports: 4, in: dir, messages: messages) { ports in
            """
            global
                stats socket \(dir.file("admin-\(ports[0]).sock")) level admin
            \(httpPreamble(logPort: logs.port).split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n"))
            frontend preferring
                bind 127.0.0.1:\(ports[0])
                default_backend preferring
            frontend balancing
                bind 127.0.0.1:\(ports[1])
                default_backend balancing
            frontend hashing
                bind 127.0.0.1:\(ports[2])
                default_backend hashing
            frontend shared
                bind 127.0.0.1:\(ports[3])
                default_backend shared
            backend preferring
                balance roundrobin
                option prefer-last-server
                http-reuse never
                server a 127.0.0.1:\(a.port)
                server b 127.0.0.1:\(b.port)
            backend balancing
                balance roundrobin
                http-reuse never
                server a 127.0.0.1:\(a.port)
                server b 127.0.0.1:\(b.port)
            backend shared
                balance roundrobin
                option prefer-last-server
                server a 127.0.0.1:\(a.port)
                server b 127.0.0.1:\(b.port)
            backend hashing
                balance uri
                option prefer-last-server
                http-reuse never
                server a 127.0.0.1:\(a.port)
                server b 127.0.0.1:\(b.port)

            """
        } _: { side, ports in
            let socket = dir.file("admin-\(ports[0]).sock")
            var seen: [String] = []
            seen.append("preferring: " + (try Self.servedBy(port: ports[0], count: 4)).joined(separator: " "))
            seen.append("preferring, new connection: " + (try Self.servedBy(port: ports[0], count: 3)).joined(separator: " "))
            seen.append("balancing: " + (try Self.servedBy(port: ports[1], count: 4)).joined(separator: " "))
            seen.append("hashing: " + (try Self.servedBy(port: ports[2], count: 4)).joined(separator: " "))
            seen.append("shared: " + (try Self.servedBy(port: ports[3], count: 4)).joined(separator: " "))
            // `http-reuse never`: a second client's requests get server connections of their own.
            let before = a.connections + b.connections
            for _ in 0..<2 { _ = try Self.servedBy(port: ports[1], count: 2) }
            seen.append("never, server connections for 2 clients x 2 requests: \(a.connections + b.connections - before)")
            // The server of the first request goes into maintenance before the third: the rest are balanced.
            let maintained = try Self.servedBy(port: ports[0], count: 4) { i in
                guard i == 2 else { return }
                _ = try RuntimeAPIInteropTests.socat(socket, "set server preferring/a state maint\n")
            }
            seen.append("maintenance: " + maintained.joined(separator: " "))
            return seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.first == "preferring: origin a origin a origin a origin a", "\(ours)")
        #expect(ours.contains("balancing: origin a origin b origin a origin b"), "\(ours)")
        #expect(ours.contains("shared: origin a origin b origin a origin b"), "\(ours)")
    }
}
