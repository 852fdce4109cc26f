import Foundation
import TestSupport
import Testing

/// `bind … interface NAME` (SO_BINDTODEVICE) beside HAProxy 2.6: a listener bound to the loopback interface serves
/// what comes on it, the same answers and lines. One bound to an interface that does not exist: HAProxy drops the
/// restriction behind a warning and listens everywhere; the proxy does not start (what it cannot honour, it refuses).
@Suite("bind interface beside HAProxy", .serialized)
struct BindInterfaceInteropTests {
    @Test func listenersBoundToAnInterface() async throws {
        let dir = try TemporaryDirectory(prefix: "bind-interface")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0]) interface lo
                http-request return status 200 content-type text/plain string "on lo"

            """
        } _: { _, ports in
            let answer = try Peers.exchange(
                port: ports[0], Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            let lines = await messages.take(waitingFor: 1, seconds: 10) { $0.contains(" [") }
            return [String(decoding: answer, as: UTF8.self)] + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine)
        }
        expectSameSides(results)
        #expect(results["proxy"]?.first?.hasSuffix("on lo") == true, "\(results)")
        // An interface that is not there: HAProxy warns ("cannot bind receiver to device") and listens on every
        // interface anyway, the restriction dropped; the proxy refuses to start (fail closed), naming the device.
        let port = try Peers.freePort()
        try """
        defaults
            mode http
            timeout client 1s
            timeout server 1s
            timeout connect 1s
        frontend f
            bind 127.0.0.1:\(port) interface nosuchdev0
            http-request return status 200

        """.write(toFile: dir.file("missing.cfg"), atomically: true, encoding: .utf8)
        let haproxy = try RunningPeer(
            try Peers.find("haproxy"), ["-db", "-f", dir.file("missing.cfg")], logPath: dir.file("missing-haproxy.out"))
        #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "HAProxy listens without the device")
        haproxy.stop()
        #expect(haproxy.output.contains("cannot bind receiver to device 'nosuchdev0'"), "\(haproxy.output)")
        let ours = try Peers.run(try Products.path("proxy"), ["-f", dir.file("missing.cfg")], timeout: 10)
        let said = String(decoding: ours.stdout + ours.stderr, as: UTF8.self)
        #expect(ours.status != 0 && said.contains("No such device"), "\(said)")
        #expect(!Peers.isListening(port: port))
    }
}
