import Foundation
import TestSupport
import Testing

/// The seed's scenario with real parts: two MariaDB servers (Debian's) as the nodes, `proxy` in front of them with
/// health checks, the `mariadb` client running queries through it; one node stopped is marked DOWN within
/// fall × inter and clients keep working; restarted, it comes back UP after rise checks.
@Suite("MariaDB behind the proxy", .serialized)
struct MariaDBThroughProxyTests {
    /// One MariaDB server on loopback with its own data folder (no grant tables: the tests' client needs none;
    /// with `grants`, the server checks its users, root without a password).
    final class Node: @unchecked Sendable {
        let port: Int
        let dir: String
        let grants: Bool
        private(set) var server: RunningPeer?

        init(in root: TemporaryDirectory, name: String, grants: Bool = false) throws {
            self.grants = grants
            port = try Peers.freePort()
            dir = root.file(name)
            // Its own temporary folder: the bootstrap's temporary tables in a /tmp other programs share and clean
            // up were seen removed under it ("Could not remove temporary table … error: 2").
            try FileManager.default.createDirectory(atPath: dir + ".tmp", withIntermediateDirectories: true)
            let install = try Peers.find("mariadb-install-db")
            let made = try Peers.run(
                install,
                [
                    "--no-defaults", "--datadir=\(dir)", "--user=root", "--auth-root-authentication-method=normal",
                    "--skip-test-db", "--tmpdir=\(dir).tmp",
                ])
            guard made.status == 0 else {
                throw PeerFailed(description: "mariadb-install-db: \(String(decoding: made.stderr, as: UTF8.self))")
            }
            try start()
        }

        func start() throws {
            let mariadbd = try Peers.find("mariadbd")
            server = try RunningPeer(
                mariadbd,
                [
                    "--no-defaults", "--datadir=\(dir)", "--user=root", "--port=\(port)", "--bind-address=127.0.0.1",
                    "--socket=\(dir).sock", "--pid-file=\(dir).pid", "--skip-name-resolve", "--tmpdir=\(dir).tmp",
                ] + (grants ? [] : ["--skip-grant-tables"]),
                logPath: dir + ".log")
            guard Peers.waitUntil(seconds: 30, { (try? MariaDBThroughProxyTests.query(port: port)) != nil }) else {
                throw PeerFailed(description: "mariadbd did not start on \(port)")
            }
        }

        func stop() { server?.stop() }
    }

    /// `SELECT @@port` through `port` with Debian's client: the port of the node that answered.
    static func query(port: Int) throws -> Int? {
        let client = try Peers.find("mariadb")
        let run = try Peers.run(
            client, ["-h", "127.0.0.1", "-P", "\(port)", "-u", "root", "-N", "-B", "-e", "SELECT @@port"])
        guard run.status == 0 else { return nil }
        return Int(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func queriesGoOnWhileANodeIsDownAndItComesBack() async throws {
        let dir = try TemporaryDirectory(prefix: "mariadb")
        let n1 = try await blocking { try Node(in: dir, name: "n1") }
        defer { n1.stop() }
        let n2 = try await blocking { try Node(in: dir, name: "n2") }
        defer { n2.stop() }
        let logs = try await LoopbackUDPReceiver()
        let port = try Peers.freePort()
        try """
        global
            log 127.0.0.1:\(logs.port) local0 info
        defaults
            log global
            mode tcp
            option tcplog
            retries 3
            option redispatch
            timeout connect 2s
            timeout client 30s
            timeout server 30s
        listen mycat_servers
            bind 127.0.0.1:\(port)
            option tcpka
            balance roundrobin
            server mycat_01 127.0.0.1:\(n1.port) check inter 200ms rise 2 fall 3 weight 10
            server mycat_02 127.0.0.1:\(n2.port) check inter 200ms rise 2 fall 3 weight 10

        """.write(toFile: dir.file("haproxy.cfg"), atomically: true, encoding: .utf8)
        let proxy = try RunningPeer(
            try Products.path("proxy"), ["-f", dir.file("haproxy.cfg")], logPath: dir.file("proxy.out"))
        defer { proxy.stop() }
        #expect(Peers.waitUntil(seconds: 10) { proxy.output.contains("listening on") }, "\(proxy.output)")

        // Both nodes answer, in turn.
        let answered = try await blocking { try (1...4).map { _ in try Self.query(port: port) } }
        #expect(Set(answered.compactMap { $0 }) == [n1.port, n2.port], "\(answered)")

        // Node 2 stops: DOWN within fall × inter (3 × 200 ms) after its port closes, queries keep working on node 1.
        _ = try await blocking { n2.stop() }
        let stoppedAt = ContinuousClock.now
        var down: String?
        var noticed = Duration.seconds(60)
        while down == nil, ContinuousClock.now - stoppedAt < .seconds(10), let d = await logs.nextArrival() {
            let text = String(decoding: d.bytes, as: UTF8.self)
            if text.contains("Server mycat_servers/mycat_02 is DOWN") {
                down = text
                // When the line arrived, not when this busy test process got to read it.
                noticed = d.at - stoppedAt
            }
        }
        // fall × inter is 600 ms; the margin is for a machine busy with the other tests running beside this one.
        #expect(down != nil && noticed < .milliseconds(3 * 200) + .seconds(5), "noticed after \(noticed)")
        let during = try await blocking { try (1...4).map { _ in try Self.query(port: port) } }
        #expect(during == [n1.port, n1.port, n1.port, n1.port], "\(during)")

        // Back: UP after rise (2) good checks.
        try await blocking { try n2.start() }
        var up: String?
        let restartedAt = ContinuousClock.now
        while up == nil, ContinuousClock.now - restartedAt < .seconds(10), let d = await logs.next() {
            let text = String(decoding: d, as: UTF8.self)
            if text.contains("Server mycat_servers/mycat_02 is UP") { up = text }
        }
        #expect(up?.contains("reason: Layer4 check passed") == true, "\(up ?? "no UP line")")
        let after = try await blocking { try (1...4).map { _ in try Self.query(port: port) } }
        #expect(Set(after.compactMap { $0 }) == [n1.port, n2.port], "\(after)")
        try await logs.close()
    }
}
