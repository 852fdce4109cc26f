import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A soft stop (SIGUSR1, as a reload's `-sf` sends it) beside HAProxy 2.6, with plain sockets: a kept-alive
/// connection waiting between requests closes at once, a request in progress gets its response with
/// `connection: close`, a request begun before the stop and completed after it is served the same way, and a
/// connection that sent nothing keeps its request timeout (HAProxy's 408). The old process then ends within its
/// slowest client's timeout, not its idlest client's keep-alive.
@Suite("Soft stop beside HAProxy", .serialized)
struct SoftStopInteropTests {
    /// Reads one response to a request for `/` (its body is `origin NAME\n`).
    static func readResponse(_ fd: Int32) -> String {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !(text.contains("\r\n\r\n") && text.hasSuffix("\n") && text.contains("origin ")) {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            text += String(decoding: buffer[..<n], as: UTF8.self)
        }
        return text
    }

    /// The status line and the `connection` field of what `fd` received until it closed.
    static func summary(_ bytes: [UInt8]) -> String {
        let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let connection = lines.first { $0.lowercased().hasPrefix("connection:") }?.lowercased() ?? "no connection field"
        return "\(lines.first ?? "nothing") | \(connection)"
    }

    @Test func idleConnectionsCloseAtOnceAndRequestsInProgressFinish() async throws {
        let dir = try TemporaryDirectory(prefix: "soft-stop")
        let origin = try await HTTPOrigin(name: "app")
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let port = try Peers.freePort()
            // Timeouts far from what a loaded machine takes between the steps; the keep-alive's far beyond them.
            try """
                defaults
                    mode http
                    timeout connect 1s
                    timeout http-request 15s
                    timeout client 40s
                    timeout server 40s
                    timeout http-keep-alive 120s
                frontend site
                    bind 127.0.0.1:\(port)
                    default_backend app
                backend app
                    server s 127.0.0.1:\(origin.port)

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let side = try startSide(who, in: dir)
            defer { side.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(side.output)")
            func connect() throws -> Int32 { try Peers.connectLoopback(port: port, timeoutSeconds: 45) }
            func send(_ fd: Int32, _ text: String) { _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } }
            let idle = try connect()
            send(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let first = Self.readResponse(idle)
            // Held by the server until the soft stop is seen: in progress at the stop, whatever the machine's load.
            let inFlight = try connect()
            send(inFlight, "GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
            let fresh = try connect()
            let partial = try connect()
            send(partial, "GET / HTTP/1.1\r\nHost: x\r\n")
            #expect(Peers.waitUntil(seconds: 15) { origin.heldCount == 1 }, "the held request did not reach the server")
            let stopped = Date()
            side.send(signal: SIGUSR1)
            // The idle connection's close is the sign that the soft stop reached the connections.
            var buffer = [UInt8](repeating: 0, count: 16)
            let idleEnd = recv(idle, &buffer, buffer.count, 0)
            let idleClosedIn = Date().timeIntervalSince(stopped)
            send(partial, "\r\n")
            origin.releaseHeld()
            var seen = [
                "first: \(Self.summary(Array(first.utf8)))",
                "idle: \(idleEnd == 0 ? "closed" : "read \(idleEnd)")",
                "partial, completed after the stop: \(Self.summary(Peers.readUntilClosed(partial)))",
                "in flight: \(Self.summary(Peers.readUntilClosed(inFlight)))",
                "silent: \(Self.summary(Peers.readUntilClosed(fresh)))",
            ]
            // It ends once the silent connection's request timeout has passed, not after the keep-alive's.
            seen.append(Peers.waitUntil(seconds: 40) { !side.isRunning } ? "the process ended" : "still running")
            for fd in [idle, partial, fresh, inFlight] { close(fd) }
            results[who] = seen
            if who == "proxy" { #expect(idleClosedIn < 10, "the idle connection closed \(idleClosedIn) s after the stop") }
        }
        expectSameSides(results)
        #expect(results["proxy"]?.contains("idle: closed") == true, "\(results)")
        #expect(results["proxy"]?.contains("in flight: HTTP/1.1 200 OK | connection: close") == true, "\(results)")
        #expect(results["proxy"]?.contains("partial, completed after the stop: HTTP/1.1 200 OK | connection: close") == true, "\(results)")
        try await origin.close()
    }
}
