import Foundation
import TestSupport
import Testing

/// `option logasap` beside HAProxy 2.6: a TCP session is logged as it reaches its server (total time and bytes so
/// far marked `+`, termination `--`), an HTTP exchange as its response's head arrives (`----`); nothing more at
/// their ends.
@Suite("option logasap beside HAProxy", .serialized)
struct LogASAPInteropTests {
    @Test func linesComeEarlyAndMarkedAsHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "logasap")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let web = try await LoopbackHTTPResponder()
        let echo = try await EchoBackend()
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
                option logasap
            frontend h
                bind 127.0.0.1:\(ports[0])
                default_backend web
            backend web
                server w 127.0.0.1:\(web.port)
            frontend t
                mode tcp
                option tcplog
                bind 127.0.0.1:\(ports[1])
                default_backend echo
            backend echo
                mode tcp
                server e 127.0.0.1:\(echo.port)

            """
        } _: { _, ports in
            _ = try Peers.exchange(port: ports[0], Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            // The TCP client waits a moment after connecting, so that its line is logged before it sends anything.
            let fd = try Peers.connectLoopback(port: ports[1], timeoutSeconds: 2)
            try await Task.sleep(for: .milliseconds(300))
            var byte: UInt8 = 0x61
            _ = send(fd, &byte, 1, Int32(MSG_NOSIGNAL))
            _ = recv(fd, &byte, 1, 0)
            close(fd)
            // Two lines and no more: wait for a third that must not come.
            let lines = await messages.take(waitingFor: 3, seconds: 2) { $0.contains(" [") }
            return lines.filter { $0.contains(" [") }.map { line in
                // The '+' of the total time kept; the HTTP bytes (HAProxy counts what it holds of the body too) left
                // out, their '+' kept.
                let plus = line.split(separator: " ").first { $0.contains("/+") }.map { _ in "Tt+" } ?? "Tt"
                var words = normalizedHTTPLine(line).split(separator: " ").map(String.init)
                if words.count > 7, words[7].hasPrefix("+"), line.contains("HTTP/1.1") { words[7] = "+B" }
                return plus + " " + withoutActconn(words.joined(separator: " "))
            }.sorted()
        }
        expectSameSides(results)
        #expect(results["proxy"]?.count == 2, "\(results)")
        print("logasap lines: \(results["proxy"] ?? [])")
        #expect(results["proxy"]?.allSatisfy { $0.hasPrefix("Tt+ ") } == true, "\(results)")
        try await web.close()
        try await echo.close()
    }
}
