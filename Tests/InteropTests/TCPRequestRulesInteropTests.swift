import Foundation
import TestSupport
import Testing

/// `tcp-request connection|content accept|reject` on `src` beside HAProxy 2.6, on the same configuration: the same
/// clients are served or turned away (closed without a byte), rejected connections leave no line while rejected
/// sessions leave the same `PR` lines (frontend and backend rules, TCP and HTTP mode), and `show stat` counts them
/// alike (`dcon`, `dreq`).
@Suite("tcp-request rules beside HAProxy", .serialized)
struct TCPRequestRulesInteropTests {
    /// `<PRI> CLIENT:PORT [DATE] FE BE/SRV TIMERS …` with the port, the date and the timers that are not -1 blanked.
    static func normalized(_ message: String) -> String {
        var words = message.split(separator: " ").map(String.init)
        guard words.count > 5 else { return message }
        if let colon = words[1].lastIndex(of: ":") { words[1] = words[1][..<colon] + ":PORT" }
        words[2] = "[DATE]"
        words[5] = words[5].split(separator: "/").map { $0 == "-1" ? "-1" : "T" }.joined(separator: "/")
        return words.joined(separator: " ")
    }

    /// Each frontend's `dcon` and `dreq` from `show stat`.
    static func denials(_ socket: String, _ names: [String]) throws -> [String: (Int, Int)] {
        var counts: [String: (Int, Int)] = [:]
        for named in try RuntimeAPIInteropTests.statRows(socket, "show stat -1 1 -1\n") {
            if let name = named["pxname"], names.contains(name) {
                counts[name] = (Int(named["dcon"] ?? "") ?? -1, Int(named["dreq"] ?? "") ?? -1)
            }
        }
        return counts
    }

    @Test func sameClientsServedSameLinesSameCounters() async throws {
        let dir = try TemporaryDirectory(prefix: "tcp-request")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let echo = try await EchoBackend()
        let origin = try await HTTPOrigin(name: "web", port: 0)
        let names = ["conn_reject", "conn_accept", "content_reject", "via_backend", "content_ok", "http_reject"]
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let ports = try Peers.freePorts(names.count)
            let socket = dir.file("\(who).sock")
            try """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                    stats socket \(socket) level admin
                defaults
                    log global
                    mode tcp
                    option tcplog
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                frontend conn_reject
                    bind 127.0.0.1:\(ports[0])
                    acl lan src 10.0.0.0/8 192.168.0.0/16
                    tcp-request connection reject if !lan
                    default_backend echo
                frontend conn_accept
                    bind 127.0.0.1:\(ports[1])
                    acl me src 127.0.0.1
                    tcp-request connection accept if me
                    tcp-request connection reject
                    default_backend echo
                frontend content_reject
                    bind 127.0.0.1:\(ports[2])
                    acl lan src 10.0.0.0/8
                    tcp-request content reject if ! lan
                    default_backend echo
                frontend via_backend
                    bind 127.0.0.1:\(ports[3])
                    default_backend guarded
                frontend content_ok
                    bind 127.0.0.1:\(ports[4])
                    tcp-request content reject unless { src 127.0.0.0/8 }
                    default_backend echo
                frontend http_reject
                    mode http
                    option httplog
                    bind 127.0.0.1:\(ports[5])
                    acl lan src 10.0.0.0/8 172.16.0.0/12
                    tcp-request content accept if lan
                    tcp-request content reject
                    default_backend web
                backend echo
                    server e 127.0.0.1:\(echo.port)
                backend guarded
                    acl trusted src 192.168.0.0/16 10.0.0.0/8
                    tcp-request content reject if !trusted
                    server e 127.0.0.1:\(echo.port)
                backend web
                    mode http
                    server w 127.0.0.1:\(origin.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { ports.allSatisfy(Peers.isListening) }, "\(peer.output)")
            // The counters before the clients: the readiness probes above count too, as many as it took, and under
            // load a probe's connection may be taken (and its line sent) a while after it closed; so the counters are
            // read until two readings half a second apart agree, and the probes' lines are dropped meanwhile.
            // No probe's session is left open either (its count would show in the clients' lines, `feconn`/`beconn`).
            func idle() throws -> Bool {
                try RuntimeAPIInteropTests.statRows(socket, "show stat -1 3 -1\n")
                    .filter { names.contains($0["pxname"] ?? "") }.allSatisfy { $0["scur"] == "0" }
            }
            var before = try Self.denials(socket, names)
            for _ in 0..<40 {
                _ = await messages.take(waitingFor: 1, seconds: 0.5) { _ in false }
                let again = try Self.denials(socket, names)
                if names.allSatisfy({ again[$0]?.0 == before[$0]?.0 && again[$0]?.1 == before[$0]?.1 }), try idle() {
                    break
                }
                before = again
            }
            var seen: [String] = []
            for (n, name) in names.enumerated() {
                let fd = try Peers.connectLoopback(port: ports[n], timeoutSeconds: 5)
                let request = name.hasPrefix("http") ? "GET / HTTP/1.1\r\nHost: x\r\n\r\n" : "hello"
                _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                shutdown(fd, Int32(SHUT_WR))
                let answer = Peers.readUntilClosed(fd)
                close(fd)
                seen.append("\(name): \(answer.isEmpty ? "closed, nothing" : "answered")")
            }
            // Two PR lines (TCP), one PR-- line (HTTP) and the two served sessions; none for the rejected connection.
            let lines = await messages.take(waitingFor: 5, seconds: 10) { $0.contains(" [") }
            // The process's count of open sessions (`actconn`) depends on whether the previous client's session was
            // seen ending yet (HAProxy under load shows it open): left out.
            seen += lines.filter { $0.contains(" [") }.map(Self.normalized).map(withoutActconn).sorted()
            let after = try Self.denials(socket, names)
            for name in names {
                let (c0, r0) = before[name] ?? (0, 0)
                let (c1, r1) = after[name] ?? (-1, -1)
                seen.append("\(name): dcon+\(c1 - c0) dreq+\(r1 - r0)")
            }
            results[who] = seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("conn_reject: closed, nothing") && ours.contains("conn_accept: answered"), "\(ours)")
        #expect(ours.contains("conn_reject: dcon+1 dreq+0") && ours.contains("http_reject: dcon+0 dreq+1"), "\(ours)")
        try await echo.close()
        try await origin.close()
    }
}

/// A comparison beside HAProxy: for HAProxy, then the proxy, `count` ports, the configuration `config` makes for them
/// written and started, its ports listening and the lines of those probes gone, then `exchange` run on the side
/// ("haproxy", "proxy") and its ports; what each side's `exchange` returned, by side.
func besideHAProxy(
    ports count: Int, in dir: TemporaryDirectory, messages: RuntimeAPIInteropTests.Messages,
    config: ([Int]) -> String, _ exchange: (_ side: String, _ ports: [Int]) async throws -> [String]
) async throws -> [String: [String]] {
    var results: [String: [String]] = [:]
    for who in ["haproxy", "proxy"] {
        let ports = try Peers.freePorts(count)
        try config(ports).write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
        let peer = try startSide(who, in: dir)
        defer { peer.stop() }
        #expect(Peers.waitUntil(seconds: 10) { ports.allSatisfy { Peers.isListening(port: $0) } }, "\(peer.output)")
        _ = await messages.take(waitingFor: count, seconds: 0.5) { _ in false }
        results[who] = try await exchange(who, ports)
    }
    return results
}

/// A log line with its `actconn` (the first of the five counts) written `A`: whether an earlier client's session
/// was seen ending by then varies with the machine's load, on either side.
func withoutActconn(_ line: String) -> String {
    line.split(separator: " ").map { word in
        let parts = word.split(separator: "/")
        return parts.count == 5 && parts.allSatisfy({ Int($0) != nil })
            ? "A/" + parts.dropFirst().joined(separator: "/") : String(word)
    }.joined(separator: " ")
}

/// Both sides' results, equal, or both shown in full.
func expectSameSides(_ results: [String: [String]], sourceLocation: SourceLocation = #_sourceLocation) {
    let ours = results["proxy"] ?? []
    let theirs = results["haproxy"] ?? []
    #expect(
        ours == theirs, "\n\(ours.joined(separator: "\n"))\n--- HAProxy:\n\(theirs.joined(separator: "\n"))",
        sourceLocation: sourceLocation)
}

/// HAProxy (`who` "haproxy", in the foreground) or the proxy on `DIR/WHO.cfg`, its output in `DIR/WHO.out`: the
/// two sides of a beside-HAProxy comparison, run one after the other on the same configuration.
func startSide(_ who: String, in dir: TemporaryDirectory) throws -> RunningPeer {
    let program = who == "haproxy" ? try Peers.find("haproxy") : try Products.path("proxy")
    return try RunningPeer(
        program, (who == "haproxy" ? ["-db"] : []) + ["-f", dir.file("\(who).cfg")], logPath: dir.file("\(who).out"))
}

/// The `global` and `defaults` sections of a TCP comparison driven through the runtime API: lines to the test's
/// receiver, an admin stats socket, short timeouts (no `option tcplog`: the lines compared are state changes).
func tcpPreamble(logPort: Int, socket: String) -> String {
    """
    global
        log 127.0.0.1:\(logPort) local0 info
        stats socket \(socket) level admin
    defaults
        log global
        mode tcp
        timeout connect 1s
        timeout client 5s
        timeout server 5s

    """
}

/// The `global` and `defaults` sections of an HTTP comparison: lines to the test's receiver, httplog, short timeouts.
func httpPreamble(logPort: Int) -> String {
    """
    global
        log 127.0.0.1:\(logPort) local0 info
    defaults
        log global
        mode http
        option httplog
        timeout connect 1s
        timeout client 5s
        timeout server 5s
    """
}

/// An httplog line as `TCPRequestRulesInteropTests.normalized` leaves it, with the connection counts blanked too
/// (when a previous client's close was seen varies): only the retries are kept.
func normalizedHTTPLine(_ message: String) -> String {
    var words = TCPRequestRulesInteropTests.normalized(message).split(separator: " ").map(String.init)
    if words.count > 11 { words[11] = "A/F/B/S/" + (words[11].split(separator: "/").last ?? "") }
    return words.joined(separator: " ")
}
