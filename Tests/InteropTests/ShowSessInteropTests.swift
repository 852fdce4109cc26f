import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `show sess` and `shutdown session` beside HAProxy 2.6, through socat: the same sessions listed with the same
/// client, frontend, backend and server (a TCP session relaying, an HTTP request waiting on its server), the same
/// detailed view's names and ids, the same answers to a missing or unknown session and to a level too low, and a
/// session ended by number logged with the same termination state by both (TCP and HTTP), as is an HTTP request
/// ended by `shutdown sessions server`.
@Suite("show sess and shutdown session beside HAProxy", .serialized)
struct ShowSessInteropTests {
    /// The fields both write, from one `show sess` line: protocol, client address, frontend, backend, server and
    /// retries (HAProxy's own CLI session, `fe=GLOBAL`, left out).
    static func listed(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count > 5, !line.contains(" fe=GLOBAL ") else { return nil }
            let keep = words.filter { word in
                ["proto=", "src=", "fe=", "be=", "srv=", "rc="].contains { word.hasPrefix($0) }
            }
            return keep.joined(separator: " ")
        }.sorted()
    }

    /// A session's number (the line's first word) by the frontend it is on.
    static func ids(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), let fe = line.split(separator: " ").first(where: { $0.hasPrefix("fe=") })
            else { continue }
            out[String(fe.dropFirst(3))] = String(line[..<colon])
        }
        return out
    }

    /// From the detailed view: the frontend, backend and server with their ids and the server's address.
    static func detailed(_ text: String) -> [String] {
        let patterns = [
            #"frontend=\S+ \(id=\d+ mode=\w+\)"#, #"backend=\S+ \(id=-?\d+ mode=\S+\)"#,
            #"server=\S+ \(id=-?\d+\)( addr=\S+)?"#, #"proto=\w+ source=\S+"#,
        ]
        return patterns.compactMap { pattern in text.range(of: pattern, options: .regularExpression).map { String(text[$0]) } }
    }

    /// The local port of a connected socket.
    static func localPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func listedDetailedAndEndedAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "show-sess")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let echo = try await EchoBackend()
        let stalled = try StalledServer()
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let (tcp, http) = (try Peers.freePort(), try Peers.freePort())
            let admin = dir.file("\(who)-admin.sock")
            let user = dir.file("\(who)-user.sock")
            try """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                    nbthread 1
                    stats socket \(admin) level admin
                    stats socket \(user) level user
                defaults
                    log global
                    timeout connect 1s
                    timeout client 300s
                    timeout server 300s
                listen tcpl
                    bind 127.0.0.1:\(tcp)
                    mode tcp
                    option tcplog
                    server t 127.0.0.1:\(echo.port)
                frontend httpf
                    bind 127.0.0.1:\(http)
                    mode http
                    option httplog
                    default_backend httpb
                backend httpb
                    mode http
                    server h 127.0.0.1:\(stalled.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(
                Peers.waitUntil(seconds: 10) { Peers.isListening(port: tcp) && access(admin, F_OK) == 0 }, "\(peer.output)")
            var seen: [String] = []
            // A TCP session relaying, and two HTTP requests waiting on a server that never answers (their timeouts
            // far beyond the test: in the whole suite, HAProxy's 30 s once ended one before it was shut down).
            let a = try Peers.connectLoopback(port: tcp, timeoutSeconds: 10)
            let b = try Peers.connectLoopback(port: http, timeoutSeconds: 10)
            let c = try Peers.connectLoopback(port: http, timeoutSeconds: 10)
            defer { [a, b, c].forEach { close($0) } }
            let request = Array("GET /wait HTTP/1.1\r\nHost: example\r\n\r\n".utf8)
            for fd in [b, c] { _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
            // All three accepted and the two requests waiting on their server, and the readiness probe's session
            // gone (a loaded machine may take a while for either).
            var list = ""
            #expect(
                try Peers.waitUntil(seconds: 20) {
                    list = try RuntimeAPIInteropTests.socat(admin, "show sess\n")
                    let sessions = Self.listed(list)
                    // Found by their clients' ports (a readiness probe's session is none of them), and no other.
                    func has(_ fd: Int32, _ srv: String) -> Bool {
                        sessions.contains { $0.contains("src=127.0.0.1:\(Self.localPort(fd)) ") && $0.contains(srv) }
                    }
                    return has(a, " srv=t ") && has(b, " srv=h ") && has(c, " srv=h ") && sessions.count == 3
                }, "\(who): \(list)")
            _ = messages.take()
            let listed = Self.listed(list)
            seen += listed.map {
                $0.replacingOccurrences(of: #"src=127.0.0.1:\d+"#, with: "src=127.0.0.1:P", options: .regularExpression)
            }.sorted()
            // The client's address is the connection's own.
            #expect(listed.contains { $0.contains("src=127.0.0.1:\(Self.localPort(a)) ") }, "\(who): \(list)")
            let ids = Self.ids(list)
            let tcpID = ids["tcpl"] ?? "none"
            seen += Self.detailed(try RuntimeAPIInteropTests.socat(admin, "show sess \(tcpID)\n"))
                .map { $0.replacingOccurrences(of: #"source=127.0.0.1:\d+"#, with: "source=127.0.0.1:P", options: .regularExpression) }
            for command in ["show sess 0x1234567", "shutdown session", "shutdown session nothing", "shutdown session 0x1234567"] {
                seen.append("\(command) -> " + (try RuntimeAPIInteropTests.socat(admin, command + "\n")))
            }
            seen.append("user: " + (try RuntimeAPIInteropTests.socat(user, "show sess\n")))
            seen.append("operator: " + (try RuntimeAPIInteropTests.socat(admin, "operator; shutdown session \(tcpID)\n")))
            // Ended by number (TCP, then one HTTP request), then by server (the other request).
            let httpID = Self.ids(try RuntimeAPIInteropTests.socat(admin, "show sess\n"))["httpf"] ?? "none"
            _ = try RuntimeAPIInteropTests.socat(admin, "shutdown session \(tcpID)\n")
            _ = try RuntimeAPIInteropTests.socat(admin, "shutdown session \(httpID)\n")
            #expect(Peers.readUntilClosed(a).isEmpty, "\(who)")
            try await Task.sleep(for: .milliseconds(300))
            _ = try RuntimeAPIInteropTests.socat(admin, "shutdown sessions server httpb/h\n")
            // The three ended from outside (`K…`; the readiness probe's own line, `--`, may come late and is left out).
            func killed(_ line: String) -> Bool {
                (line.contains(" tcpl tcpl/t ") || line.contains(" httpf httpb/h "))
                    && line.range(of: #" K[A-Z-]"#, options: .regularExpression) != nil
            }
            let lines = await messages.take(waitingFor: 3, seconds: 20, killed).filter(killed)
            seen += lines.compactMap { line -> String? in
                let words = line.split(separator: " ")
                guard let at = words.firstIndex(where: { $0 == "tcpl/t" || $0 == "httpb/h" }) else { return nil }
                // The termination state: after the bytes in tcplog, after the two capture dashes in httplog.
                let state = words[at] == "tcpl/t" ? at + 3 : at + 6
                return state < words.count ? "\(words[at]) \(words[state])" : nil
            }.sorted()
            let after = Self.listed(try RuntimeAPIInteropTests.socat(admin, "show sess\n"))
            seen.append("left: \(after.count)")
            results[who] = seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("proto=tcpv4 src=127.0.0.1:P fe=tcpl be=tcpl srv=t rc=0"), "\(ours)")
        #expect(ours.contains("left: 0"), "\(ours)")
    }
}
