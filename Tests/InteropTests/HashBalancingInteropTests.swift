import Foundation
import TestSupport
import Testing

/// `balance source|uri|url_param|hdr` with `hash-type map-based|consistent` beside HAProxy 2.6: every request goes
/// to the same server through the proxy as through HAProxy, for the same servers and weights (a fleet mixing the two
/// keeps each cache key, client or site on one server).
@Suite("Hash balancing beside HAProxy", .serialized)
struct HashBalancingInteropTests {
    static let backends: [(name: String, balance: String)] = [
        ("uri_map", "balance uri"),
        ("uri_whole_ring", "balance uri whole\n    hash-type consistent"),
        ("uri_depth_djb2", "balance uri depth 2 len 12\n    hash-type map-based djb2 avalanche"),
        ("param_crc", "balance url_param id\n    hash-type consistent crc32"),
        ("host_wt6", "balance hdr(Host) use_domain_only\n    hash-type consistent wt6 avalanche"),
        ("agent_map", "balance hdr(User-Agent)"),
        ("source_map", "balance source"),
        ("source_ring", "balance source\n    hash-type consistent"),
    ]

    @Test func everyRequestReachesTheServerHAProxySendsItTo() async throws {
        let dir = try TemporaryDirectory(prefix: "hash-balance")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        var webs: [LoopbackHTTPResponder] = []
        for _ in 0..<4 { webs.append(try await LoopbackHTTPResponder()) }
        let ports = webs.map(\.port)
        let results = try await besideHAProxy(ports: Self.backends.count, in: dir, messages: messages) { listen in
            var config = """
                \(httpPreamble(logPort: logs.port))
                    log-format "%b %s %HU"

                """
            for (i, backend) in Self.backends.enumerated() {
                config += """
                    listen \(backend.name)
                        bind 127.0.0.1:\(listen[i])
                        \(backend.balance)
                        server a 127.0.0.1:\(ports[0]) weight 1
                        server b 127.0.0.1:\(ports[1]) weight 3
                        server c 127.0.0.1:\(ports[2]) weight 2
                        server d 127.0.0.1:\(ports[3]) weight 4

                    """
            }
            return config
        } _: { _, listen in
            for (i, backend) in Self.backends.enumerated() {
                for n in 0..<24 {
                    let request =
                        "GET /p\(n % 5)/\(n)/x/y?q=\(n)&id=u\(n * 7)&z HTTP/1.1\r\nHost: w\(n).site\(n % 6).example\r\n"
                        + "User-Agent: agent/\(n % 9)\r\nConnection: close\r\n\r\n"
                    if backend.name.hasPrefix("source") {
                        // Clients from 24 addresses of the loopback network.
                        let fd = try StickTableInteropTests.connect(port: listen[i], from: "127.0.\(n % 3).\(2 + n * 9)")
                        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        var buffer = [UInt8](repeating: 0, count: 4096)
                        while recv(fd, &buffer, buffer.count, 0) > 0 {}
                        close(fd)
                    } else {
                        _ = try StickTableInteropTests.answer(port: listen[i], request)
                    }
                }
            }
            // One request without the parameter, header or path the backend hashes goes round robin on both sides
            // (not compared: the round robin's order is each one's own).
            let lines = await messages.take(waitingFor: Self.backends.count * 24, seconds: 20) { $0.contains(" /p") }
            return lines.map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) ?? $0 }.sorted()
        }
        expectSameSides(results)
        print("hash balancing, proxy: \((results["proxy"] ?? []).filter { $0.hasPrefix("uri_map") || $0.hasPrefix("source_ring") })")
        let servers = Set((results["proxy"] ?? []).map { $0.split(separator: " ")[1] })
        #expect(servers.count == 4, "every server takes some: \(servers)")
        #expect(results["proxy"]?.count == Self.backends.count * 24, "\(results["proxy"]?.count ?? 0)")
        for web in webs { try await web.close() }
    }
}
