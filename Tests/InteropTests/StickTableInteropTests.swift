import Foundation
import Synchronization
import TestSupport
import Testing

/// Stick tables beside HAProxy 2.6, through curl and plain sockets: a rate limit on `sc_http_req_rate` answers a
/// flooding client with the same 200s and 429s, a `sc0_conn_cur` limit holds exactly, `stick on src` keeps each
/// client on its server, and `show table` (socat on the stats socket) lists the same entries.
@Suite("Stick tables beside HAProxy", .serialized)
struct StickTableInteropTests {
    /// `show table` as both print it, the entries' addresses and expiry dates left out (they differ by nature).
    static func normalizedTable(_ text: String) -> [String] {
        text.split(separator: "\n").map { line in
            line.split(separator: " ").map { word -> String in
                if word.hasPrefix("0x") && word.hasSuffix(":") { return "PTR:" }
                if word.hasPrefix("exp=") { return "exp=T" }
                return String(word)
            }.joined(separator: " ")
        }
    }

    /// How many lines each client address has with each server of `backend` (`127.0.0.1 app/app1 500`), sorted.
    static func serversByClient(_ lines: [String], backend: String) -> [String] {
        var counts: [String: Int] = [:]
        for line in lines where line.contains(" \(backend)/") {
            let words = line.split(separator: " ")
            guard let client = words.dropFirst().first?.split(separator: ":").first,
                let server = words.first(where: { $0.hasPrefix("\(backend)/") })
            else { continue }
            counts["\(client) \(server)", default: 0] += 1
        }
        return counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
    }

    @Test func aFloodIsHeldToItsRateLimitAsHAProxyHoldsIt() async throws {
        let dir = try TemporaryDirectory(prefix: "stick-rate")
        let curl = try Peers.find("curl")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        var tables: [String: [String]] = [:]
        var audited: [String] = []
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            global
                stats socket \(dir.file("rate.sock")) level admin
                log 127.0.0.1:\(logs.port) local0 info
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            frontend site
                bind 127.0.0.1:\(ports[0])
                stick-table type ipv6 size 100k expire 10m store http_req_rate(2s),http_req_cnt,http_err_cnt,conn_cur
                http-request track-sc0 src
                http-request deny deny_status 429 if { sc_http_req_rate(0) gt 10 }
                http-request return status 200 content-type text/plain string "ok"

            """
        } _: { who, ports in
            // 10 s at 50 requests a second on one kept-alive connection: ten times the 5/s the limit lets through.
            let run = try Peers.run(
                curl,
                ["-s", "-o", "/dev/null", "-w", "%{http_code}\n", "--rate", "50/s", "http://127.0.0.1:\(ports[0])/[1-500]"],
                timeout: 60)
            let codes = String(decoding: run.stdout, as: UTF8.self).split(separator: "\n")
            // Two periods of silence later the window is empty again: the same client gets its 10, then a 429.
            try await Task.sleep(for: .milliseconds(4_500))
            let again = try Peers.run(
                curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}\n", "http://127.0.0.1:\(ports[0])/[1-11]"],
                timeout: 60)
            let slowCodes = String(decoding: again.stdout, as: UTF8.self).split(separator: "\n")
            tables[who] = Self.normalizedTable(try RuntimeAPIInteropTests.socat(dir.file("rate.sock"), "show table site\n"))
            // Ours: one audit line for the flooding client (a first block; the next would come a minute later).
            if who == "proxy" {
                let audit = await messages.take(waitingFor: 1, seconds: 5) { $0.contains("audit: limit blocked") }
                audited = audit.filter { $0.contains("audit: limit blocked") }
            }
            return [
                "\(codes.filter { $0 == "200" }.count)", "\(codes.filter { $0 == "429" }.count)", "\(codes.count)",
                "\(slowCodes.filter { $0 == "200" }.count)", "\(slowCodes.last ?? "")",
            ]
        }
        let ours = (results["proxy"] ?? []).compactMap { Int($0) }
        let theirs = (results["haproxy"] ?? []).compactMap { Int($0) }
        #expect(ours.count == 5 && theirs.count == 5 && ours[2] == 500 && theirs[2] == 500, "\(results)")
        guard ours.count == 5, theirs.count == 5 else { return }
        // A client that keeps flooding stays over the limit (its refused requests count too): only the first
        // window's 10 pass, on both sides. Once the window has slid past the flood, 10 pass again and the 11th
        // is refused.
        #expect(ours == [10, 490, 500, 10, 429] && theirs == ours, "\(results)")
        #expect(audited.count == 1, "\(audited)")
        #expect(
            audited.first?.hasSuffix(
                "audit: limit blocked client=127.0.0.1 proxy=site action=deny status=429 limit=sc_http_req_rate blocked=1")
                == true, "\(audited)")
        // The client's entry, the IPv4 client mapped into the ipv6 table, every request counted, each 429 an
        // error; the same data as HAProxy's in the same order.
        let line = tables["proxy"]?.dropFirst().first ?? ""
        #expect(line.hasPrefix("PTR: key=::ffff:127.0.0.1 use=0 exp=T conn_cur=0 http_req_cnt=511 http_req_rate(2000)=11 http_err_cnt=491"), "\(tables)")
        func names(_ lines: [String]?) -> [String] {
            (lines ?? []).map { $0.split(separator: " ").map { $0.split(separator: "=").first.map(String.init) ?? "" }.joined(separator: " ") }
        }
        #expect(names(tables["proxy"]) == names(tables["haproxy"]), "\(tables)")
        #expect(tables["proxy"]?.first == tables["haproxy"]?.first, "\(tables)")
    }

    /// A limit per path from a map (`set-var(txn.limit) path,map_beg(…)`), checked as `sc1_http_req_rate(t),
    /// sub(txn.limit) gt 0`, as the real-world files write it; the other converters of integers in ACLs beside it.
    @Test func aLimitReadFromAVariableThroughConvertersAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "stick-arith")
        let curl = try Peers.find("curl")
        let origin = try await LoopbackHTTPResponder()
        let messages = RuntimeAPIInteropTests.Messages(try await LoopbackUDPReceiver())
        try "/api 3\n/slow 1\n".write(toFile: dir.file("limits.map"), atomically: true, encoding: .utf8)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            backend paths
                stick-table type binary len 20 size 1k expire 1m store http_req_rate(10s)
            frontend site
                bind 127.0.0.1:\(ports[0])
                http-request set-var(txn.limit) path,map_beg(\(dir.file("limits.map")),5)
                http-request track-sc1 base32+src table paths
                acl over sc1_http_req_rate(paths),sub(txn.limit) gt 0
                acl unset sc1_http_req_rate(paths),sub(txn.none) ge 0
                acl third sc1_http_req_rate(paths),mod(3),not
                acl big sc1_http_req_rate(paths),mul(-4),neg,div(2),add(-1) ge 5
                acl odd sc1_http_req_rate(paths),odd
                acl masked sc1_http_req_rate(paths),and(6),xor(1),or(8),cpl,neg ge 13
                acl dashed sc1_http_req_rate(paths) lt -4
                http-response set-header X-Third yes if third
                http-response set-header X-Big yes if big
                http-response set-header X-Odd yes if odd
                http-response set-header X-Masked yes if masked
                http-response set-header X-Dashed yes if dashed
                http-response set-header X-Unset yes if unset
                http-request deny deny_status 429 if over
                default_backend app
            backend app
                server s 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for path in ["api", "slow", "other"] {
                let run = try Peers.run(
                    curl, ["-s", "-o", "/dev/null", "-D", "-", "-w", "=%{http_code}\n", "http://127.0.0.1:\(ports[0])/\(path)?[1-7]"])
                // Each answer: its status and the headers the conditions added.
                var marks: [String] = []
                // (Split as bytes: "\r\n" is one Character to Swift's strings.)
                for raw in run.stdout.split(separator: UInt8(ascii: "\n")) {
                    let line = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
                    if line.hasPrefix("x-") { marks.append(String(line.prefix { $0 != ":" })) }
                    if line.hasPrefix("=") {
                        seen.append("\(path) \(line.dropFirst()) \(marks.sorted().joined(separator: ","))")
                        marks = []
                    }
                }
            }
            return seen
        }
        expectSameSides(results)
        let statuses = (results["proxy"] ?? []).map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        let expected = ["api": 3, "slow": 1, "other": 5].sorted { $0.key < $1.key }.flatMap { path, limit in
            (1...7).map { "\(path) \($0 <= limit ? 200 : 429)" }
        }
        #expect(statuses.sorted() == expected.sorted(), "\(results)")
        // Each condition held on some answers and not on others (`unset`: never, its variable is not set).
        for mark in ["x-third", "x-big", "x-odd", "x-masked", "x-dashed"] {
            let marked = (results["proxy"] ?? []).filter { $0.hasSuffix("200 ") == false && $0.contains(mark) }.count
            #expect(marked > 0 && marked < 12, "\(mark): \(results)")
        }
        #expect(!(results["proxy"] ?? []).contains { $0.contains("x-unset") }, "\(results)")
        try await origin.close()
    }

    @Test func aConcurrentConnectionLimitHoldsExactly() async throws {
        let dir = try TemporaryDirectory(prefix: "stick-conn")
        let echo = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            defaults
                mode tcp
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            frontend db
                bind 127.0.0.1:\(ports[0])
                stick-table type ip size 1k expire 1m store conn_cur,conn_cnt
                tcp-request connection track-sc0 src
                tcp-request connection reject if { sc0_conn_cur gt 3 }
                default_backend echo
            backend echo
                server e 127.0.0.1:\(echo.port)

            """
        } _: { _, ports in
            // Six connections held open: three pass, three are closed at once (which three depends on the order
            // the threads accept them in, on both sides). One that passed leaves, and a seventh passes.
            var sockets: [Int32] = []
            for _ in 0..<6 { sockets.append(try Peers.connectLoopback(port: ports[0], timeoutSeconds: 2)) }
            let open = sockets.filter { Self.echoes($0) }
            var seen = ["\(open.count) of 6 open"]
            if let leaving = open.first { close(leaving) }
            try await Task.sleep(for: .milliseconds(300))
            let seventh = try Peers.connectLoopback(port: ports[0], timeoutSeconds: 2)
            seen.append(Self.echoes(seventh) ? "then open" : "then closed")
            for fd in sockets where fd != open.first { close(fd) }
            close(seventh)
            return seen
        }
        expectSameSides(results)
        #expect(results["proxy"] == ["3 of 6 open", "then open"], "\(results)")
        try await echo.close()
    }

    /// Whether a byte sent on `fd` comes back (the connection was let through to the echo server).
    static func echoes(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0x78
        guard send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 else { return false }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var answer: UInt8 = 0
        return recv(fd, &answer, 1, 0) == 1 && answer == 0x78
    }

    @Test func stickOnSourceKeepsEachClientOnItsServer() async throws {
        let dir = try TemporaryDirectory(prefix: "stick-on")
        let curl = try Peers.find("curl")
        let first = try await LoopbackHTTPResponder()
        let second = try await LoopbackHTTPResponder()
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        var tables: [String: [String]] = [:]
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            httpPreamble(logPort: logs.port).replacingOccurrences(
                of: "global\n    log ", with: "global\n    stats socket \(dir.file("stick.sock")) level admin\n    log ")
                + """

            frontend web
                bind 127.0.0.1:\(ports[0])
                default_backend app
            backend app
                balance roundrobin
                stick-table type ip size 200k expire 30m
                stick on src
                server app1 127.0.0.1:\(first.port)
                server app2 127.0.0.1:\(second.port)

            """
        } _: { who, ports in
            // 500 requests from 127.0.0.1, then 500 from 127.0.0.2: round robin would alternate.
            for source in ["127.0.0.1", "127.0.0.2"] {
                _ = try Peers.run(
                    curl,
                    ["-s", "-o", "/dev/null", "--interface", source, "http://127.0.0.1:\(ports[0])/[1-500]"],
                    timeout: 120)
            }
            let lines = await messages.take(waitingFor: 1_000, seconds: 30) { $0.contains(" app/") }
            tables[who] = Self.normalizedTable(try RuntimeAPIInteropTests.socat(dir.file("stick.sock"), "show table app\n"))
            return Self.serversByClient(lines, backend: "app")
        }
        expectSameSides(results)
        #expect(results["proxy"] == ["127.0.0.1 app/app1 500", "127.0.0.2 app/app2 500"], "\(results)")
        #expect(tables["proxy"] == tables["haproxy"], "\(tables)")
        try await first.close()
        try await second.close()
    }

    /// A connection to 127.0.0.1:`port` from `source` (another loopback address), reads timing out after 2 s.
    static func connect(port: Int, from source: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func address(_ ip: String, _ port: Int) -> sockaddr_in {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = inet_addr(ip)
            a.sin_port = UInt16(port).bigEndian
            return a
        }
        var local = address(source, 0)
        var remote = address("127.0.0.1", port)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, size) }
        }
        guard bound == 0, connected == 0 else {
            close(fd)
            throw PeerFailed(description: "connect from \(source) to \(port): errno \(errno)")
        }
        return fd
    }

    /// What a client gets for `request`: the answer, `closed`, `reset`, or `no answer` within `seconds`.
    static func answer(port: Int, _ request: String, seconds: Int = 2) throws -> String {
        let fd = try Peers.connectLoopback(port: port, timeoutSeconds: seconds)
        defer { close(fd) }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                received += buffer[..<n]
                continue
            }
            if n == 0 { return received.isEmpty ? "closed" : String(decoding: received, as: UTF8.self) + "|closed" }
            if errno == ECONNRESET { return received.isEmpty ? "reset" : String(decoding: received, as: UTF8.self) + "|reset" }
            return received.isEmpty ? "no answer" : String(decoding: received, as: UTF8.self) + "|open"
        }
    }

    @Test func silentDropAndTarpitAnswerAsHAProxyDoes() async throws {
        let dir = try TemporaryDirectory(prefix: "stick-drop")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let echo = try await EchoBackend()
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
                timeout tarpit 1s
            frontend site
                bind 127.0.0.1:\(ports[0])
                stick-table type ip size 1k expire 1m store http_req_cnt,http_err_cnt
                http-request track-sc0 src
                http-request silent-drop if { path /drop }
                http-request tarpit if { path /tarpit }
                http-request tarpit deny_status 429 if { path /slow }
                http-request return status 200 content-type text/plain string "ok"
            frontend db
                mode tcp
                option tcplog
                bind 127.0.0.1:\(ports[1])
                tcp-request connection silent-drop if { src 127.0.0.2 }
                default_backend echo
            backend echo
                mode tcp
                server e 127.0.0.1:\(echo.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            for path in ["/drop", "/tarpit", "/slow", "/ok"] {
                let started = Date()
                seen.append(try Self.answer(port: ports[0], "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n"))
                // Held about a second (the tarpit) or not at all.
                seen.append(Date().timeIntervalSince(started) > 0.9 ? "held" : "at once")
            }
            // TCP: a client from 127.0.0.2 is dropped at the connection (nothing logged, nothing seen: it sends
            // nothing, since a byte sent after the silent close would meet the kernel's reset), one from 127.0.0.1
            // passes.
            for source in ["127.0.0.2", "127.0.0.1"] {
                let fd = try Self.connect(port: ports[1], from: source)
                var byte: UInt8 = 0x78
                if source == "127.0.0.1" { _ = send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) }
                let n = recv(fd, &byte, 1, 0)
                seen.append("\(source): " + (n == 1 ? "echo" : n == 0 ? "closed" : errno == ECONNRESET ? "reset" : "no answer"))
                close(fd)
            }
            let lines = await messages.take(waitingFor: 5, seconds: 10) { $0.contains(" [") }
            return seen + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.first == "no answer", "\(ours)")
        #expect(ours.contains { $0.contains(" PT-- ") && $0.contains(" 429 ") }, "\(ours)")
        try await echo.close()
    }

    @Test func rateLimitSessionsSpreadsNewSessionsAsHAProxyDoes() async throws {
        let dir = try TemporaryDirectory(prefix: "rate-limit")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            defaults
                mode http
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend web
                bind 127.0.0.1:\(ports[0])
                rate-limit sessions 10
                http-request return status 200

            """
        } _: { _, ports in
            // The probes that saw the port open are sessions too: their window passes first.
            try await Task.sleep(for: .milliseconds(2_100))
            // 30 clients at once, each on its own thread: when each is answered, from the first one's start.
            let answered = Mutex<[Double]>([])
            let group = DispatchGroup()
            let start = Date()
            for _ in 0..<30 {
                group.enter()
                Thread.detachNewThread {
                    if (try? Peers.exchange(port: ports[0], Array("GET / HTTP/1.0\r\n\r\n".utf8))) != nil {
                        answered.withLock { $0.append(Date().timeIntervalSince(start)) }
                    }
                    group.leave()
                }
            }
            group.wait()
            // From the first answer (threads start late under load): how many in its first half second, and when
            // the last one was (in tenths).
            let all = answered.withLock { $0 }.sorted()
            let times = all.map { $0 - (all.first ?? 0) }
            return ["\(times.count)", "\(times.filter { $0 < 0.5 }.count)", "\(Int((times.last ?? 0) * 10))"]
        }
        let ours = (results["proxy"] ?? []).compactMap { Int($0) }
        let theirs = (results["haproxy"] ?? []).compactMap { Int($0) }
        // A second's worth (about 10) at once, then 10 a second: the 30th about 2 s later, on both sides. Where the
        // one-second periods fall (each side's own clock) moves up to 5 more into the first half second: HAProxy
        // showed 10 to 15 from run to run.
        #expect(ours.count == 3 && theirs.count == 3 && ours[0] == 30 && theirs[0] == 30, "\(results)")
        guard ours.count == 3, theirs.count == 3 else { return }
        #expect((8...16).contains(ours[1]) && (8...16).contains(theirs[1]), "\(results)")
        #expect((12...35).contains(ours[2]) && abs(ours[2] - theirs[2]) <= 8, "\(results)")
    }

    @Test func stickOnInTCPModeKeepsEachClientOnItsServer() async throws {
        let dir = try TemporaryDirectory(prefix: "stick-tcp")
        let first = try await EchoBackend()
        let second = try await EchoBackend()
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port).replacingOccurrences(of: "mode http\n    option httplog", with: "mode tcp\n    option tcplog"))
            listen db
                bind 127.0.0.1:\(ports[0])
                balance roundrobin
                stick-table type ip size 1000
                stick on src
                server db1 127.0.0.1:\(first.port)
                server db2 127.0.0.1:\(second.port)

            """
        } _: { _, ports in
            // 20 connections from 127.0.0.1, then 20 from 127.0.0.2, each sending a byte and reading it back.
            for source in ["127.0.0.1", "127.0.0.2"] {
                for _ in 0..<20 {
                    let fd = try Self.connect(port: ports[0], from: source)
                    var byte: UInt8 = 0x61
                    _ = send(fd, &byte, 1, Int32(MSG_NOSIGNAL))
                    _ = recv(fd, &byte, 1, 0)
                    close(fd)
                }
            }
            let lines = await messages.take(waitingFor: 40, seconds: 20) { $0.contains(" db/") }
            return Self.serversByClient(lines, backend: "db")
        }
        expectSameSides(results)
        #expect(results["proxy"] == ["127.0.0.1 db/db1 20", "127.0.0.2 db/db2 20"], "\(results)")
        try await first.close()
        try await second.close()
    }
}
