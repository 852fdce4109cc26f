import Foundation
import TestSupport
import Testing

/// The `dst_port` ACL beside HAProxy 2.6: a TCP frontend bound to two ports routes each port to its own backend
/// (`use_backend … if { dst_port N }`, the real-world form of a cluster's data and bus ports), and an HTTP frontend
/// denies or answers by port, `-m int` ranges and operators included.
@Suite("dst_port ACLs beside HAProxy", .serialized)
struct DestinationPortInteropTests {
    @Test func eachPortReachesItsBackendAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "dst-port")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let origins = [try await HTTPOrigin(name: "data"), try await HTTPOrigin(name: "bus")]
        let results = try await besideHAProxy(ports: 5, in: dir, messages: messages) { ports in
            """
            global
                log 127.0.0.1:\(logs.port) local0 info
            defaults
                log global
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            frontend kv
                mode tcp
                bind 127.0.0.1:\(ports[0])
                bind 127.0.0.1:\(ports[1])
                use_backend data if { dst_port \(ports[0]) }
                use_backend bus if { dst_port \(ports[1]) }
            backend data
                mode tcp
                server d 127.0.0.1:\(origins[0].port)
            backend bus
                mode tcp
                server b 127.0.0.1:\(origins[1].port)
            frontend web
                mode http
                bind 127.0.0.1:\(ports[2])
                bind 127.0.0.1:\(ports[3])
                bind 127.0.0.1:\(ports[4])
                acl low dst_port lt \(ports[3])
                acl high dst_port -m int ge \(ports[4])
                http-request deny deny_status 403 if high
                http-request return status 200 content-type text/plain lf-string "low %[dst_port]" if low
                http-request return status 200 content-type text/plain string "middle"

            """
        } _: { _, ports in
            try ports.map { port in
                let request = "GET / HTTP/1.1\r\nHost: kv\r\nConnection: close\r\n\r\n"
                // The TCP ports: the client ends its side, so that the relay ends when the origin has answered.
                let tcp = port == ports[0] || port == ports[1]
                let answer = String(
                    decoding: try Peers.exchange(port: port, Array(request.utf8), halfClose: tcp), as: UTF8.self)
                let status = answer.split(separator: "\r\n").first ?? ""
                let body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined()
                // The port numbers differ between the two runs: the answers name the port by its place.
                let shown = body.replacingOccurrences(of: String(port), with: "PORT")
                return "\(ports.firstIndex(of: port) ?? -1): \(status) \(shown.hasPrefix("<html>") ? "(page)" : shown)"
            }
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.count == 5 && ours[0].contains("origin data") && ours[1].contains("origin bus"), "\(ours)")
        #expect(ours[2].hasSuffix("low PORT") && ours[3].hasSuffix("middle") && ours[4].contains("403"), "\(ours)")
    }
}
