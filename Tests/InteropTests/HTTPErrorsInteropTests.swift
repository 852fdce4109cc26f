import Foundation
import TestSupport
import Testing

/// `http-errors` sections beside HAProxy 2.6: a proxy's `errorfiles NAME [CODE…]` (all the section's files or the
/// codes named, in order with its own `errorfile` lines, a later line winning) and `http-request deny deny_status
/// N errorfiles NAME`: the same bytes to the client, and the same warning for a code the section lacks.
@Suite("http-errors beside HAProxy", .serialized)
struct HTTPErrorsInteropTests {
    @Test func sectionFilesAnswerAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "http-errors")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let site503 =
            "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\n"
            + "Content-Type: text/html\r\n\r\n<html><body><h1>Back soon</h1></body></html>\n"
        let site429 =
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: 23\r\n"
            + "Retry-After: 10\r\nConnection: close\r\n\r\n{\"error\":\"slow down\"}\r\n"
        let own503 =
            "HTTP/1.0 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nown page\n"
        try site503.write(toFile: dir.file("503.http"), atomically: true, encoding: .utf8)
        try site429.write(toFile: dir.file("429.http"), atomically: true, encoding: .utf8)
        try own503.write(toFile: dir.file("own503.http"), atomically: true, encoding: .utf8)
        let results = try await besideHAProxy(ports: 3, in: dir, messages: messages) { ports in
            httpPreamble(logPort: logs.port)
                + """

                http-errors site
                    errorfile 503 \(dir.file("503.http"))
                    errorfile 429 \(dir.file("429.http"))
                frontend all
                    bind 127.0.0.1:\(ports[0])
                    errorfiles site
                    http-request deny deny_status 429 errorfiles site if { path_beg /limited }
                    http-request deny deny_status 403 errorfiles site if { path_beg /forbidden }
                    default_backend empty
                frontend own_last
                    bind 127.0.0.1:\(ports[1])
                    errorfiles site 503
                    errorfile 503 \(dir.file("own503.http"))
                    default_backend empty
                frontend section_last
                    bind 127.0.0.1:\(ports[2])
                    errorfile 503 \(dir.file("own503.http"))
                    errorfiles site 503
                    default_backend empty
                backend empty

                """
        } _: { _, ports in
            var seen: [String] = []
            for (port, path) in [
                (ports[0], "/"), (ports[0], "/limited"), (ports[0], "/forbidden"), (ports[1], "/"), (ports[2], "/"),
            ] {
                let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
                let request = "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                seen.append("\(port == ports[0] ? "all" : port == ports[1] ? "own_last" : "section_last") \(path): "
                    + String(decoding: Peers.readUntilClosed(fd), as: UTF8.self))
                close(fd)
            }
            return seen
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains { $0.hasPrefix("all /limited: HTTP/1.1 429") && $0.contains("slow down") }, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("own_last /: ") && $0.hasSuffix("own page\n") }, "\(ours)")
        #expect(ours.contains { $0.hasPrefix("section_last /: ") && $0.contains("Back soon") }, "\(ours)")
        // `-c` beside `haproxy -c`: both valid, both warn that the section has no 403.
        let text = try String(contentsOfFile: dir.file("proxy.cfg"), encoding: .utf8)
        try text.write(toFile: dir.file("check.cfg"), atomically: true, encoding: .utf8)
        let theirs = try Peers.run(try Peers.find("haproxy"), ["-c", "-f", dir.file("check.cfg")])
        let mine = try Peers.run(try Products.path("proxy"), ["-c", "-f", dir.file("check.cfg")])
        #expect(theirs.status == 0 && mine.status == 0, "\(String(decoding: mine.stderr + mine.stdout, as: UTF8.self))")
        #expect(String(decoding: mine.stdout + mine.stderr, as: UTF8.self).contains("not declared in http-errors section 'site'"))
    }
}
