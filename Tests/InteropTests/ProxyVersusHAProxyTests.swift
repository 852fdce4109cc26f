import Foundation
import TestSupport
import Testing

/// The same configuration and the same sessions through Debian's HAProxy 2.6 and through `proxy`: the tcplog
/// lines must be the same apart from pids, client ports, dates and timers.
@Suite("proxy's tcplog beside real HAProxy's", .serialized)
struct ProxyVersusHAProxyTests {
    /// A line with what differs between two runs blanked: `haproxy[PID]`, the client port, the dates, the timers.
    static func normalized(_ datagram: String) -> String {
        var words = datagram.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        // <134>Nov 26 08:00:00 haproxy[1]: 127.0.0.1:5 [26/Nov/2026:08:00:00.000] fe be/srv Tw/Tc/Tt bytes ts a/f/b/s/r q/q
        guard words.count >= 13 else { return datagram }
        words[0] = String(words[0].prefix { $0 != ">" }) + ">MMM"
        words[1] = "DD"
        words[2] = "HH:MM:SS"
        words[3] = "haproxy[PID]:"
        if let colon = words[4].lastIndex(of: ":") { words[4] = words[4][..<colon] + ":PORT" }
        words[5] = "[DATE]"
        words[8] = words[8].split(separator: "/").map { $0 == "-1" ? "-1" : "T" }.joined(separator: "/")
        return words.joined(separator: " ")
    }

    /// HAProxy and `proxy` on the same configuration (`config(port)`), each on a port of its own, both listening.
    static func startBoth(in dir: TemporaryDirectory, _ config: (Int) -> String) throws -> (
        their: Int, our: Int, peers: [RunningPeer]
    ) {
        let haproxy = try Peers.find("haproxy")
        let theirPort = try Peers.freePort()
        let ourPort = try Peers.freePort()
        try config(theirPort).write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
        try config(ourPort).write(toFile: dir.file("proxy.cfg"), atomically: true, encoding: .utf8)
        let theirs = try RunningPeer(haproxy, ["-db", "-f", dir.file("haproxy.cfg")], logPath: dir.file("haproxy.out"))
        let ours = try RunningPeer(
            try Products.path("proxy"), ["-f", dir.file("proxy.cfg")], logPath: dir.file("proxy.out"))
        #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: theirPort) && Peers.isListening(port: ourPort) })
        return (theirPort, ourPort, [theirs, ours])
    }

    @Test func tcplogLinesEqualHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "proxy-vs-haproxy")
        let echo = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let deadRefusing = try RefusingPort()
        defer { deadRefusing.close() }
        let dead = deadRefusing.port
        func config(_ port: Int) -> String {
            """
            global
                log 127.0.0.1:\(logs.port) local0 info
                nbthread 1
            defaults
                log global
                mode tcp
                option tcplog
                option log-separate-errors
                option dontlognull
                retries 2
                option redispatch
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            listen mycat_servers
                bind 127.0.0.1:\(port)
                balance roundrobin
                server dead 127.0.0.1:\(dead) weight 1
                server mycat_01 127.0.0.1:\(echo.port) weight 10

            """
        }
        let (theirPort, ourPort, peers) = try Self.startBoth(in: dir, config)
        defer { for peer in peers { peer.stop() } }
        // The readiness probes are sessions too (connected to the server, then closed, not logged under
        // dontlognull): let them end, or the first line's counts include one of them.
        try await Task.sleep(for: .seconds(1))

        // Eleven sessions each (the smooth 1:10 weights send one to the dead server: retried, then redispatched),
        // then a client that resets its connection. `dontlognull` keeps the readiness probes out of the logs.
        // One session at a time: the next starts once the previous one is logged (the counts in a line depend on
        // what else is open).
        func nextLine() async -> String? {
            while let datagram = await logs.next() {
                let text = String(decoding: datagram, as: UTF8.self)
                if text.contains(" mycat_servers/") { return Self.normalized(text) }
            }
            return nil
        }
        var lines: [Int: [String]] = [:]
        for port in [theirPort, ourPort] {
            var got: [String] = []
            for n in 1...11 {
                // All the same length: which session meets the dead server differs (see below).
                let request = Array("hello \(n < 10 ? "0" : "")\(n)".utf8)
                let reply = try Peers.exchange(port: port, request, halfClose: true)
                #expect(reply == request, "port \(port) session \(n)")
                if let line = await nextLine() { got.append(line) }
                // A proxy sends the line before it frees the session: give it that moment, or the next line may
                // count this session as still open (seen once from HAProxy on a loaded machine: 2/2/0/0/0).
                try await Task.sleep(for: .milliseconds(50))
            }
            try Peers.resetAfterSending(port: port, Array("abort".utf8))
            if let line = await nextLine() { got.append(line) }
            lines[port] = got
        }
        let their = try #require(lines[theirPort])
        let our = try #require(lines[ourPort])
        #expect(our.count == 12 && their.count == 12)
        // The same lines; HAProxy sends the weight-1 server its turn at the end of the cycle, the smooth round-robin
        // here in the middle, so the order differs.
        #expect(
            our.sorted() == their.sorted(),
            "\nours:\n\(our.joined(separator: "\n"))\ntheirs:\n\(their.joined(separator: "\n"))")
        try await echo.close()
        try await logs.close()
    }

    /// A server at its maxconn: the second session waits in the backend's queue and gets the slot when the first
    /// ends (`Tw` > 0, backend queue position 1); the third waits longer than `timeout queue` and ends with 503 /
    /// `sQ`, `<NOSRV>`, position 2 (the second left the queue while it waited). The three lines equal HAProxy's.
    ///
    /// With `balance source` the sessions wait in the server's own queue instead (the algorithm chose the server):
    /// the positions move to the server column and the timed-out session names its server.
    @Test(arguments: ["roundrobin", "source"])
    func queuedSessionsLogAsHAProxys(balance: String) async throws {
        let dir = try TemporaryDirectory(prefix: "proxy-vs-haproxy-queue")
        let echo = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        func config(_ port: Int) -> String {
            """
            global
                log 127.0.0.1:\(logs.port) local0 info
            defaults
                log global
                mode tcp
                option tcplog
                option dontlognull
                timeout connect 1s
                timeout queue 1500ms
                timeout client 10s
                timeout server 10s
            listen queued
                bind 127.0.0.1:\(port)
                balance \(balance)
                server only 127.0.0.1:\(echo.port) maxconn 1

            """
        }
        let (theirPort, ourPort, peers) = try Self.startBoth(in: dir, config)
        defer { for peer in peers { peer.stop() } }
        try await Task.sleep(for: .seconds(1))

        var lines: [Int: [String]] = [:]
        for port in [theirPort, ourPort] {
            let (first, second, third) = try await blocking {
                () -> (replies: [UInt8], [UInt8], [UInt8]) in
                // The first session takes the only slot (its echo proves it reached the server).
                let a = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
                _ = send(a, "first", 5, 0)
                var buffer = [UInt8](repeating: 0, count: 16)
                let n = recv(a, &buffer, buffer.count, 0)
                let first = Array(buffer[..<max(n, 0)])
                // Two more wait in the backend's queue.
                let b = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
                _ = send(b, "second", 6, 0)
                usleep(100_000)
                let c = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
                _ = send(c, "third", 5, 0)
                shutdown(c, Int32(SHUT_WR))
                usleep(500_000)
                // The first ends: the second gets the slot and keeps it past the third's timeout queue.
                shutdown(a, Int32(SHUT_WR))
                _ = Peers.readUntilClosed(a)
                close(a)
                let n2 = recv(b, &buffer, buffer.count, 0)
                let second = Array(buffer[..<max(n2, 0)])
                let third = Peers.readUntilClosed(c)
                close(c)
                shutdown(b, Int32(SHUT_WR))
                _ = Peers.readUntilClosed(b)
                close(b)
                return (first, second, third)
            }
            #expect(first == Array("first".utf8), "port \(port)")
            #expect(second == Array("second".utf8), "port \(port)")
            #expect(third.isEmpty, "port \(port): the queue timeout closes the third session without a byte")
            var got: [String] = []
            while got.count < 3, let datagram = await logs.next() {
                let text = String(decoding: datagram, as: UTF8.self)
                if text.contains(" queued queued/") { got.append(Self.normalized(text)) }
            }
            lines[port] = got
        }
        let their = try #require(lines[theirPort])
        let our = try #require(lines[ourPort])
        // In the server's queue the session has its server: named in the line, its sessions counted.
        let timedOut =
            balance == "source" ? "queued/only T/-1/T 0 sQ 2/2/1/1/0 2/0" : "queued/<NOSRV> T/-1/T 0 sQ 2/2/1/0/0 0/2"
        #expect(their.contains { $0.contains(timedOut) }, "\(their)")
        // The same lines. Their order is compared too, except where it is a race: the queue timeout and the second
        // session's end are microseconds apart and, with two threads, on two event loops whose log lines leave at
        // the end of each loop's batch.
        #expect(our.first == their.first, "the first session's line comes first")
        #expect(
            our.sorted() == their.sorted(),
            "\nours:\n\(our.joined(separator: "\n"))\ntheirs:\n\(their.joined(separator: "\n"))")
        try await echo.close()
        try await logs.close()
    }
}
