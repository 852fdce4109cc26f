import Foundation
import TestSupport
import Testing

/// `set server BE/SRV addr IP [port N]` and `set server BE/SRV health up|stopping|down` beside HAProxy 2.6: the
/// same answers word for word, the same states, addresses and ports in `show servers state`, the same lines, and
/// the next client served where HAProxy serves it.
@Suite("set server addr and health beside HAProxy", .serialized)
struct SetServerInteropTests {
    @Test func theServerMovesAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "set-server-addr")
        let first = try await EchoBackend()
        let moved = try await EchoBackend(host: "127.0.0.2")
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            let socket = dir.file("\(who).sock")
            try """
                global
                    stats socket \(socket) level admin
                defaults
                    mode tcp
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                listen l
                    bind 127.0.0.1:\(port)
                    server s 127.0.0.1:\(first.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            var seen: [String] = []
            for command in [
                "set server l/s addr 127.0.0.3", "set server l/s addr 127.0.0.3", "set server l/s addr ::1 port 9",
                "set server l/s addr bogus", "set server l/s addr 127.0.0.2 port x", "set server l/s addr",
                "set server l/s addr 127.0.0.2 port \(first.port)", "set server l/s addr 127.0.0.2 port \(moved.port)",
                "set server l/nope addr 127.0.0.2",
            ] {
                let answer = try RuntimeAPIInteropTests.socat(socket, command + "\n")
                seen.append("\(command) -> \(answer.replacingOccurrences(of: "\n", with: "|"))")
            }
            seen += try RuntimeAPIInteropTests.socat(socket, "show servers state l\n").split(separator: "\n")
                .filter { !$0.hasPrefix("#") && $0.split(separator: " ").count > 18 }
                .map { line in
                    let f = line.split(separator: " ")
                    return "state: \(f[3]) \(f[4]) \(f[18])"
                }
            let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
            _ = Array("hello".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(fd, Int32(SHUT_WR))
            seen.append("client: \(String(decoding: Peers.readUntilClosed(fd), as: UTF8.self))")
            close(fd)
            results[who] = seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("state: s 127.0.0.2 \(moved.port)") && ours.contains("client: hello"), "\(ours)")
        try await first.close()
        try await moved.close()
    }

    @Test func forcedHealthAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "set-server-health")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let first = try await EchoBackend()
        let second = try await EchoBackend(host: "127.0.0.2", port: first.port)
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            let socket = dir.file("\(who).sock")
            try (tcpPreamble(logPort: logs.port, socket: socket) + """
                listen l
                    bind 127.0.0.1:\(port)
                    balance first
                    server s 127.0.0.1:\(first.port)
                    server t 127.0.0.2:\(first.port)

                """).write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            _ = await messages.take(waitingFor: 1, seconds: 0.3) { _ in false }
            var seen: [String] = []
            for command in [
                "set server l/s health down", "set server l/s health down", "set server l/s health stopping",
                "set server l/s health up", "set server l/s health foo", "set server l/s agent up",
                "set server l/t health down", "set server l/s health down", "set server l/s health up",
            ] {
                let answer = try RuntimeAPIInteropTests.socat(socket, command + "\n")
                seen.append("\(command) -> \(answer.replacingOccurrences(of: "\n", with: "|"))")
                seen += try RuntimeAPIInteropTests.socat(socket, "show servers state l\n").split(separator: "\n")
                    .filter { !$0.hasPrefix("#") && $0.split(separator: " ").count > 12 }
                    .map { line in
                        let f = line.split(separator: " ")
                        return "  \(f[3]) op \(f[5]) health \(f[12])"
                    }
            }
            let lines = await messages.take(waitingFor: 7, seconds: 5) { !$0.contains(" [") }
            // Tollgate's own audit lines (HAProxy has none) left out.
            seen += lines.filter { !$0.contains(" [") && !$0.contains("Proxy ") && !$0.contains("audit: ") }
                .map { "log: " + $0 }
            results[who] = seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("log: <133> Server l/s is stopping, changed from CLI. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."), "\(ours)")
        try await first.close()
        try await second.close()
    }
}
