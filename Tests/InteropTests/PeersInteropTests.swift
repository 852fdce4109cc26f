import Foundation
import TestSupport
import Testing

/// Stick tables shared over HAProxy's peers protocol, with HAProxy 2.6 itself as the other peer: a rate limit over
/// two proxies holds as it holds over two HAProxies, a restarted proxy (ours or HAProxy) gets the table back from
/// the other, a reload (`-sf`) hands every tracked entry to the new process, and what a peer sends that is not the
/// protocol ends its session, never the proxy.
@Suite("Peers protocol beside HAProxy", .serialized)
struct PeersInteropTests {
    /// One proxy of a pair: its program, name in the peers section, HTTP port and stats socket.
    struct Member {
        var program: String
        var name: String
        var port: Int
        var socket: String
    }

    /// Two peers `lb1` and `lb2` sharing `table` (the backend `rates`), each with a frontend that tracks `key`
    /// and answers 429 past `limit` in the table's request rate.
    static func config(
        _ me: Member, peerPorts: [Int], key: String = "src", table: String, limit: Int = 1_000_000
    ) -> String {
        """
        global
            stats socket \(me.socket) level admin
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        peers mesh
            peer lb1 127.0.0.1:\(peerPorts[0])
            peer lb2 127.0.0.1:\(peerPorts[1])
        backend rates
            \(table) peers mesh
        frontend site
            bind 127.0.0.1:\(me.port)
            http-request track-sc0 \(key) table rates
            http-request deny deny_status 429 if { sc_http_req_rate(0,rates) gt \(limit) }
            http-request return status 200 content-type text/plain string ok

        """
    }

    static func start(_ m: Member, _ config: String, in dir: TemporaryDirectory, extra: [String] = []) throws -> RunningPeer {
        try config.write(toFile: dir.file("\(m.name).cfg"), atomically: true, encoding: .utf8)
        let foreground = m.program.hasSuffix("haproxy") ? ["-db"] : []
        return try RunningPeer(
            m.program, foreground + ["-L", m.name, "-f", dir.file("\(m.name).cfg")] + extra,
            logPath: dir.file("\(m.name)-\(UUID().uuidString.prefix(6)).out"))
    }

    static func socat(_ m: Member, _ command: String) -> String {
        (try? RuntimeAPIInteropTests.socat(m.socket, command + "\n")) ?? ""
    }

    /// Waits until `m`'s session with its peer is established (`show peers`, HAProxy's and ours).
    static func waitEstablished(_ m: Member, seconds: Double = 15) async throws -> Bool {
        try await blocking {
            Peers.waitUntil(seconds: seconds) {
                socat(m, "show peers").split(separator: "\n").contains { $0.contains("(remote,active)") && $0.contains("last_status=ESTA") }
            }
        }
    }

    /// Waits until `m` no longer waits for its start's lesson (`resync_timeout` past or unset).
    static func waitResynchronised(_ m: Member) async throws -> Bool {
        try await blocking {
            Peers.waitUntil(seconds: 10) {
                let head = socat(m, "show peers").split(separator: "\n").first ?? ""
                return head.contains("resync_timeout=<PAST>") || head.contains("resync_timeout=<NEVER>")
            }
        }
    }

    /// `show table rates`' entries, without their addresses and expiry dates, sorted.
    static func entries(_ m: Member) -> [String] {
        socat(m, "show table rates").split(separator: "\n").dropFirst().map { line in
            line.split(separator: " ").filter { !$0.hasPrefix("0x") && !$0.hasPrefix("exp=") }.joined(separator: " ")
        }.sorted()
    }

    static func used(_ m: Member) -> Int? {
        let head = socat(m, "show table rates").split(separator: "\n").first ?? ""
        return head.split(separator: "used:").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func pair(_ programs: [String], in dir: TemporaryDirectory) throws -> (members: [Member], peerPorts: [Int]) {
        let ports = try Peers.freePorts(4)
        let members = (0..<2).map { i in
            Member(program: programs[i], name: "lb\(i + 1)", port: ports[i], socket: dir.file("lb\(i + 1).sock"))
        }
        return (members, Array(ports[2...]))
    }

    @Test func aRateLimitSharedWithHAProxyHoldsAsBetweenTwoHAProxies() async throws {
        let haproxy = try Peers.find("haproxy")
        let proxy = try Products.path("proxy")
        let curl = try Peers.find("curl")
        var sequences: [String: [String]] = [:]
        for programs in [[haproxy, haproxy], [proxy, haproxy], [haproxy, proxy]] {
            let dir = try TemporaryDirectory(prefix: "peers-limit")
            let (members, peerPorts) = try pair(programs, in: dir)
            // A minute's window: a loaded machine may take several seconds over the twelve requests.
            let table = "stick-table type ip size 1m expire 2m store http_req_rate(60s),http_req_cnt"
            let running = try members.map { try Self.start($0, Self.config($0, peerPorts: peerPorts, table: table, limit: 5), in: dir) }
            defer { for r in running { r.stop() } }
            for m in members { #expect(try await Self.waitEstablished(m), "\(m.program): \(running.map(\.output))") }
            // Past the start's resynchronisation (5 s at most): while a process waits for its lesson, HAProxy holds
            // back its own updates, and the two sides' counts then overwrite each other.
            for m in members { #expect(try await Self.waitResynchronised(m), "\(Self.socat(m, "show peers"))") }
            // A client alternating between the two, a request every 150 ms: the shared count denies the sixth. On a
            // thread of its own: the tasks' two threads may be held by other suites for seconds.
            let codes = try await blocking {
                var codes: [String] = []
                for i in 0..<12 {
                    let m = members[i % 2]
                    let run = try Peers.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(m.port)/"])
                    codes.append(String(decoding: run.stdout, as: UTF8.self))
                    usleep(150_000)
                }
                return codes
            }
            let label = programs.map { $0.hasSuffix("haproxy") ? "haproxy" : "proxy" }.joined(separator: "+")
            sequences[label] = codes
            // Both tables hold the client's 12 requests.
            for m in members {
                let line = Self.entries(m).first ?? ""
                #expect(line.contains("http_req_cnt=12") && line.contains("http_req_rate(60000)=12"), "\(label) \(m.name): \(line)")
            }
        }
        #expect(sequences["haproxy+haproxy"] == Array(repeating: "200", count: 5) + Array(repeating: "429", count: 7), "\(sequences)")
        #expect(sequences["proxy+haproxy"] == sequences["haproxy+haproxy"], "\(sequences)")
        #expect(sequences["haproxy+proxy"] == sequences["haproxy+haproxy"], "\(sequences)")
    }

    @Test func aRestartedPeerGetsTheTableBackWhicheverSideItIs() async throws {
        let haproxy = try Peers.find("haproxy")
        let proxy = try Products.path("proxy")
        let curl = try Peers.find("curl")
        let dir = try TemporaryDirectory(prefix: "peers-resync")
        let (members, peerPorts) = try pair([proxy, haproxy], in: dir)
        // Keyed by path in a string table: 40 entries with their counts, from requests to either side.
        let table = "stick-table type string len 32 size 10k expire 10m store http_req_cnt,gpc0,http_req_rate(1m)"
        let configs = members.map { Self.config($0, peerPorts: peerPorts, key: "path", table: table) }
        var running = try members.indices.map { try Self.start(members[$0], configs[$0], in: dir) }
        defer { for r in running { r.stop() } }
        for m in members { #expect(try await Self.waitEstablished(m)) }
        for (i, m) in members.enumerated() {
            _ = try await blocking {
                try Peers.run(curl, ["-s", "-o", "/dev/null", "http://127.0.0.1:\(m.port)/k[\(i * 20 + 1)-\(i * 20 + 30)]"])
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let before = Self.entries(members[0])
        #expect(before.count == 50 && before == Self.entries(members[1]), "\(before)\n---\n\(Self.entries(members[1]))")
        // Each side restarted in turn learns everything from the other (ours teaches HAProxy, then HAProxy us).
        for i in [1, 0] {
            running[i].stop()
            running[i] = try Self.start(members[i], configs[i], in: dir)
            #expect(try await Self.waitEstablished(members[i]), "\(running[i].output)")
            let learned = try await blocking {
                Peers.waitUntil(seconds: 10) { Self.entries(members[i]) == before }
            }
            #expect(learned, "\(members[i].name): \(Self.entries(members[i]))\n--- expected:\n\(before)")
        }
    }

    @Test func aReloadHandsEveryTrackedEntryToTheNewProcess() async throws {
        let proxy = try Products.path("proxy")
        let curl = try Peers.find("curl")
        let dir = try TemporaryDirectory(prefix: "peers-reload")
        let ports = try Peers.freePorts(3)
        let me = Member(program: proxy, name: "lb1", port: ports[0], socket: dir.file("lb1.sock"))
        let table = "stick-table type string len 32 size 100k expire 10m store http_req_cnt"
        let config = Self.config(me, peerPorts: [ports[1], ports[2]], key: "path", table: table)
            .replacingOccurrences(of: "level admin", with: "level admin expose-fd listeners")
        let old = try Self.start(me, config, in: dir)
        defer { old.stop() }
        #expect(try await blocking { Peers.waitUntil(seconds: 10) { Peers.isListening(port: me.port) } })
        _ = try await blocking { try Peers.run(curl, ["-s", "-o", "/dev/null", "http://127.0.0.1:\(me.port)/k[1-300]"]) }
        #expect(Self.used(me) == 300)
        // Under load (new keys on new connections all along), a new process takes the listening socket over
        // (`-x`) and the tables (`-sf`, the old process teaching through the local peer, then passing on the
        // updates of its last sessions). Without `-x`, a connection waiting in the old socket at its close is
        // reset, with HAProxy as with ours: no entry to hand over then.
        let load = Task {
            try await blocking {
                try Peers.run(
                    curl,
                    [
                        "-s", "-o", "/dev/null", "-w", "%{http_code}\\n", "--rate", "100/s", "-H", "Connection: close",
                        "http://127.0.0.1:\(me.port)/n[1-100]",
                    ],
                    timeout: 30)
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let new = try Self.start(me, config, in: dir, extra: ["-x", me.socket, "-sf", "\(old.pid)"])
        defer { new.stop() }
        let oldGone = try await blocking { Peers.waitUntil(seconds: 15) { !old.isRunning } }
        #expect(oldGone, "the old process did not stop: \(old.output)")
        let answers = String(decoding: try await load.value.stdout, as: UTF8.self).split(separator: "\n")
        // The listening socket passed from process to process (`-x`): no connection waiting in it is lost.
        #expect(answers.count == 100 && answers.allSatisfy { $0 == "200" }, "\(answers.filter { $0 != "200" })")
        let all = Self.entries(me)
        #expect(all.count == 400 && Self.used(me) == 400, "\(all.count) entries after the reload: \(new.output)")
        #expect(all.filter { $0.hasPrefix("key=/k") }.allSatisfy { $0.hasSuffix("http_req_cnt=1") })
    }

    /// A session still open when the lesson ends (its request half sent at the reload, completed after) is tracked
    /// by the old process: the update reaches the new one over the session the lesson used, which stays open until
    /// the old process's last session has ended. HAProxy 2.6 closes that session at the lesson's confirmation
    /// (peers.c: "push resync no more needed"), and its last sessions' updates stay behind; ours are not lost.
    @Test func aSessionEndingAfterTheLessonHandsItsUpdateOn() async throws {
        let proxy = try Products.path("proxy")
        let curl = try Peers.find("curl")
        let dir = try TemporaryDirectory(prefix: "peers-late")
        let ports = try Peers.freePorts(3)
        let me = Member(program: proxy, name: "lb1", port: ports[0], socket: dir.file("lb1.sock"))
        let table = "stick-table type string len 32 size 1k expire 10m store http_req_cnt"
        // The half-sent request waits for the new process's lesson: its request timeout leaves room for a loaded
        // machine (in the whole suite, 5 s passed).
        let config = Self.config(me, peerPorts: [ports[1], ports[2]], key: "path", table: table)
            .replacingOccurrences(of: "timeout client 5s", with: "timeout client 30s")
        let old = try Self.start(me, config, in: dir)
        defer { old.stop() }
        #expect(try await blocking { Peers.waitUntil(seconds: 10) { Peers.isListening(port: me.port) } })
        let late = try Peers.connectLoopback(port: me.port, timeoutSeconds: 30)
        defer { close(late) }
        let head = Array("GET /late HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".utf8)
        _ = head.withUnsafeBytes { send(late, $0.baseAddress, $0.count, 0) }
        _ = try await blocking { try Peers.run(curl, ["-s", "-o", "/dev/null", "http://127.0.0.1:\(me.port)/k[1-10]"]) }
        // The new process answers on a stats socket of its own: what it shows is its own table.
        let next = Member(program: proxy, name: "lb1", port: me.port, socket: dir.file("lb1-next.sock"))
        let new = try Self.start(
            me, config.replacingOccurrences(of: me.socket, with: next.socket), in: dir, extra: ["-sf", "\(old.pid)"])
        defer { new.stop() }
        // The new process has the lesson, and the old one still runs its session.
        let taught = try await blocking { Peers.waitUntil(seconds: 10) { Self.entries(next).count == 10 } }
        #expect(taught, "\(Self.entries(next))")
        #expect(old.isRunning)
        // Longer than a session may stay silent (5.5 s): heartbeats both ways keep it open meanwhile.
        try await Task.sleep(for: .seconds(7))
        _ = Array("\r\n".utf8).withUnsafeBytes { send(late, $0.baseAddress, $0.count, 0) }
        let answer = String(decoding: Peers.readUntilClosed(late), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(try await blocking { Peers.waitUntil(seconds: 10) { !old.isRunning } }, "\(old.output)")
        let all = Self.entries(next)
        #expect(all.count == 11 && all.contains("key=/late use=0 http_req_cnt=1"), "\(all)")
    }

    @Test func persistenceLearntFromHAProxyCarriesTheServerNameByItsDictionary() async throws {
        let haproxy = try Peers.find("haproxy")
        let proxy = try Products.path("proxy")
        let curl = try Peers.find("curl")
        let web = try await LoopbackHTTPResponder()
        let dir = try TemporaryDirectory(prefix: "peers-stick")
        let (members, peerPorts) = try pair([proxy, haproxy], in: dir)
        func config(_ m: Member) -> String {
            """
            global
                stats socket \(m.socket) level admin
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            peers mesh
                peer lb1 127.0.0.1:\(peerPorts[0])
                peer lb2 127.0.0.1:\(peerPorts[1])
            frontend site
                bind 127.0.0.1:\(m.port)
                default_backend app
            backend app
                stick-table type ip size 1k expire 2m peers mesh
                stick on src
                server web1 127.0.0.1:\(web.port)

            """
        }
        let running = try members.map { try Self.start($0, config($0), in: dir) }
        defer { for r in running { r.stop() } }
        for m in members { #expect(try await Self.waitEstablished(m)) }
        // HAProxy stores the client's server; ours learns it, server_key sent as an entry of HAProxy's dictionary.
        let answer = try await blocking {
            try Peers.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(members[1].port)/"])
        }
        #expect(String(decoding: answer.stdout, as: UTF8.self) == "200")
        let learnt = try await blocking {
            Peers.waitUntil(seconds: 10) { Self.socat(members[0], "show table app").contains("server_id=1 server_key=web1") }
        }
        #expect(learnt, "\(Self.socat(members[0], "show table app"))")
        // `show peers` is the state as of the sync task's last visit (every 100 ms). A session that was replaced
        // since (a connection collision under load: `coll=1`) starts with an empty dictionary, as HAProxy's: another
        // request then refreshes the entry, and its update brings the server's name again.
        let shown = try await blocking {
            Peers.waitUntil(seconds: 10) {
                if Self.socat(members[0], "show peers dict mesh").contains("  0 -> web1") { return true }
                _ = try? Peers.run(curl, ["-s", "-o", "/dev/null", "http://127.0.0.1:\(members[1].port)/"])
                usleep(300_000)
                return Self.socat(members[0], "show peers dict mesh").contains("  0 -> web1")
            }
        }
        #expect(shown, "\(Self.socat(members[0], "show peers dict mesh"))")
        #expect(Self.socat(members[0], "show peers").contains("Dictionary cache not dumped (use \"show peers dict\")"))
    }

    @Test func aSoftStopWithNoProcessToTeachStopsAtOnce() async throws {
        let proxy = try Products.path("proxy")
        let dir = try TemporaryDirectory(prefix: "peers-alone")
        let ports = try Peers.freePorts(3)
        let me = Member(program: proxy, name: "lb1", port: ports[0], socket: dir.file("lb1.sock"))
        let table = "stick-table type ip size 1k expire 1m store http_req_cnt"
        let running = try Self.start(me, Self.config(me, peerPorts: [ports[1], ports[2]], table: table), in: dir)
        defer { running.stop() }
        #expect(try await blocking { Peers.waitUntil(seconds: 10) { Peers.isListening(port: me.port) } })
        // SIGUSR1 without a new process: nobody listens on the local peer's address, nothing to teach (HAProxy
        // gives up the lesson then too), and the old process does not linger for the lesson's 5 seconds.
        let started = Date()
        running.send(signal: SIGUSR1)
        let stopped = try await blocking { Peers.waitUntil(seconds: 10) { !running.isRunning } }
        #expect(stopped && Date().timeIntervalSince(started) < 3, "\(Date().timeIntervalSince(started)) s")
    }

    @Test func whatIsNotTheProtocolEndsTheSessionNotTheProxy() async throws {
        let proxy = try Products.path("proxy")
        let dir = try TemporaryDirectory(prefix: "peers-abuse")
        let ports = try Peers.freePorts(3)
        let me = Member(program: proxy, name: "lb1", port: ports[0], socket: dir.file("lb1.sock"))
        let table = "stick-table type ip size 1k expire 1m store http_req_cnt"
        let running = try Self.start(me, Self.config(me, peerPorts: [ports[1], ports[2]], table: table), in: dir)
        defer { running.stop() }
        let peerPort = ports[1]
        #expect(try await blocking { Peers.waitUntil(seconds: 10) { Peers.isListening(port: peerPort) } })
        func exchange(_ bytes: [UInt8]) async throws -> String {
            try await blocking { String(decoding: try Peers.exchange(port: peerPort, bytes), as: UTF8.self) }
        }
        // The handshake's refusals, with HAProxy's status codes.
        #expect(try await exchange(Array("GET / HTTP/1.1\r\n\r\n".utf8)) == "501\n")
        #expect(try await exchange(Array("HAProxyS 3.0\nlb1\nlb2 1 1\n".utf8)) == "502\n")
        #expect(try await exchange(Array("HAProxyS 2.1\nsomeone\nlb2 1 1\n".utf8)) == "503\n")
        #expect(try await exchange(Array("HAProxyS 2.1\nlb1\nstranger 1 1\n".utf8)) == "504\n")
        // Accepted, then garbage: a protocol error message, and the session ends.
        let hello = Array("HAProxyS 2.1\nlb1\nlb2 1 1\n".utf8)
        let reserved = try await blocking { try Peers.exchange(port: peerPort, hello + [255, 0]) }
        #expect(Array(reserved.prefix(4)) == Array("200\n".utf8) && reserved.suffix(2) == [1, 0], "\(reserved)")
        var noise = [UInt8](repeating: 0, count: 20_000)
        for i in noise.indices { noise[i] = UInt8.random(in: 0...255) }
        noise[0] = 10
        noise[1] = 0x82
        let garbage = hello + noise
        _ = try await blocking { try Peers.exchange(port: peerPort, garbage) }
        // A truncated message, then silence: the session is ended by the proxy (5 s without a message).
        let started = Date()
        let stalled = try await blocking { try Peers.exchange(port: peerPort, hello + [10, 0x80, 0x20, 1, 2]) }
        #expect(Array(stalled.prefix(4)) == Array("200\n".utf8))
        #expect(Date().timeIntervalSince(started) < 10, "the stalled session was not ended")
        // Through it all the proxy served, and counted the protocol errors.
        let answer = try await blocking {
            try Peers.exchange(port: me.port, Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        }
        #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        let peersState = Self.socat(me, "show peers")
        // lb2's counters (the line after its own), where the sessions claiming to be lb2 count their errors.
        let lines = peersState.split(separator: "\n")
        let counters = lines.firstIndex { $0.contains("id=lb2(") }.map { lines[$0 + 1] } ?? ""
        #expect(counters.contains("proto_err=") && !counters.contains("proto_err=0 "), "\(peersState)")
        #expect(running.isRunning)
    }
}
