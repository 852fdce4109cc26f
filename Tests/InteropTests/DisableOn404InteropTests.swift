import Foundation
import TestSupport
import Testing

/// `http-check disable-on-404` beside HAProxy 2.6: a server UP that answers its check 404 stops taking new
/// sessions from the balancer (NOLB) and comes back on the next 200; one failing from NOLB goes DOWN (a notice, not
/// an alert); one DOWN that answers 404 stays DOWN. The same states in `show servers state` and `show stat`, the
/// same lines (with and without `option log-health-checks`), and the same servers answering.
@Suite("http-check disable-on-404 beside HAProxy", .serialized)
struct DisableOn404InteropTests {
    /// Server rows of `show stat`: name, status, check status and code.
    static func stat(_ socket: String) throws -> [String] {
        try RuntimeAPIInteropTests.statRows(socket).compactMap { named in
            guard let name = named["svname"], name != "FRONTEND", name != "BACKEND" else { return nil }
            return [named["pxname"], name, named["status"], named["check_status"], named["check_code"]]
                .map { $0 ?? "?" }.joined(separator: " ")
        }
    }

    /// `show servers state`: backend, server, operational state, check status and result, health.
    static func states(_ socket: String) throws -> [String] {
        try RuntimeAPIInteropTests.socat(socket, "show servers state\n").split(separator: "\n")
            .filter { !$0.hasPrefix("#") && $0.split(separator: " ").count > 12 }
            .map { line in
                let f = line.split(separator: " ").map(String.init)
                return [f[1], f[3], f[5], f[6], f[10], f[11], f[12]].joined(separator: " ")
            }
    }

    @Test func nolbAsHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "disable-on-404")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let a = try await HTTPOrigin(name: "a")
        let b = try await HTTPOrigin(name: "b")
        let c = try await HTTPOrigin(name: "c")
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            for origin in [a, b, c] { origin.setHealth(200) }
            let ports = try Peers.freePorts(2)
            let socket = dir.file("\(who).sock")
            try """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                    stats socket \(socket) level admin
                defaults
                    log global
                    mode http
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                    option httpchk GET /health
                    http-check disable-on-404
                    default-server check inter 300ms rise 2 fall 2
                listen logged
                    bind 127.0.0.1:\(ports[0])
                    option log-health-checks
                    server a 127.0.0.1:\(a.port)
                    server b 127.0.0.1:\(b.port)
                listen quiet
                    bind 127.0.0.1:\(ports[1])
                    option httpchk GET /health
                    http-check expect status 200
                    server c 127.0.0.1:\(c.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { ports.allSatisfy(Peers.isListening) }, "\(peer.output)")
            var seen: [String] = []
            func step(_ name: String, _ change: () -> Void) async throws {
                change()
                try await Task.sleep(for: .milliseconds(2000))
                // Read when no check is under way: `*` in show stat, a check result of 0 in show servers state (every
                // server here is checked, so a steady one has a result).
                var states: [String] = []
                var stat: [String] = []
                for _ in 0..<40 {
                    states = try Self.states(socket)
                    stat = try Self.stat(socket)
                    let underWay =
                        stat.contains { $0.contains("* ") }
                        || states.contains { $0.split(separator: " ").dropFirst(5).first == "0" }
                    if !underWay { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                seen += states.map { "\(name): \($0)" } + stat.map { "\(name): \($0)" }
                // Four requests to the first listen: which servers answer.
                var answers: [String] = []
                for _ in 0..<4 {
                    let fd = try Peers.connectLoopback(port: ports[0], timeoutSeconds: 5)
                    let request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    let answer = String(decoding: Peers.readUntilClosed(fd), as: UTF8.self)
                    close(fd)
                    answers.append(answer.split(separator: "\n").last.map(String.init) ?? "")
                }
                seen.append("\(name): answered by \(answers.sorted())")
            }
            try await step("start") {}
            try await step("404") {
                a.setHealth(404)
                c.setHealth(404)
            }
            try await step("200 again") {
                a.setHealth(200)
                c.setHealth(200)
            }
            try await step("404, then 500") { a.setHealth(404) }
            try await step("DOWN") { a.setHealth(500) }
            try await step("404 while DOWN") { a.setHealth(404) }
            try await step("up") { a.setHealth(200) }
            let lines = messages.take().filter { !$0.contains(" [") && !$0.contains("Proxy ") }
            for server in ["logged/a", "logged/b", "quiet/c"] {
                seen += lines.filter { $0.contains(server) }.map { "log: " + Self.withoutDuration($0) }
            }
            results[who] = seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("404: logged a 3 0 16 4 3"), "\(ours)")
        #expect(ours.contains { $0.hasPrefix("404: answered by") && !$0.contains("origin a") }, "\(ours)")
        try await a.close()
        try await b.close()
        try await c.close()
    }

    /// A line with its check's duration blanked (`check duration: 1ms`).
    static func withoutDuration(_ line: String) -> String {
        guard let range = line.range(of: "check duration: ") else { return line }
        let rest = line[range.upperBound...].drop { $0.isNumber }
        return String(line[..<range.upperBound]) + "Nms" + rest.dropFirst(2)
    }
}
