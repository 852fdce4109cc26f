import Foundation
import TestSupport
import Testing

/// `hdr_val(NAME)` beside HAProxy 2.6: the header's last value read as HAProxy reads an integer (digits from the
/// start, a leading `-`, and its C quirks on other bytes), against `gt`/`le`/ranges; a request without the header
/// matches nothing. The same requests get the same statuses.
@Suite("hdr_val ACLs beside HAProxy", .serialized)
struct HeaderValueACLInteropTests {
    @Test func theSameRequestsAreDeniedAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "hdr-val")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let origin = try await HTTPOrigin(name: "o", port: 0)
        let values = [
            nil, "3", "6", "12", "-2", "abc", "7 ", " 7", "4x", "2147483648", "5, 9",
        ]
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                acl too_many hdr_val(x-count) gt 5
                acl negative hdr_val(x-count) lt 0
                acl middle hdr_val(x-count) 3:4
                http-request deny deny_status 429 if too_many
                http-request deny deny_status 400 if negative OR middle
                default_backend b
            backend b
                server o 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            try values.map { value in
                var request = "GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\n"
                if let value { request += "X-Count: \(value)\r\nX-Count: 1\r\nX-Count: \(value)\r\n" }
                request += "\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                return "\(value ?? "none"): \(answer.split(separator: "\r\n").first ?? "")"
            }
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains("6: HTTP/1.1 429 Too Many Requests") && ours.contains { $0.hasPrefix("3: HTTP/1.1 400 ") }, "\(ours)")
        #expect(ours.contains("none: HTTP/1.1 200 OK"), "\(ours)")
    }

    /// `hdr_cnt(NAME)` / `req.hdr_cnt(NAME)`: how many values a header has (its lines' comma-separated parts), as
    /// HAProxy counts them, with `req.hdr_val` and a converter beside.
    @Test func headerCountsAsHAProxyCountsThem() async throws {
        let dir = try TemporaryDirectory(prefix: "hdr-cnt")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let origin = try await HTTPOrigin(name: "o", port: 0)
        let sets: [[String]] = [[], ["a"], ["a", "b"], ["a,b"], ["a, b,c"], [""], ["a", ""], [",", "x"]]
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend f
                bind 127.0.0.1:\(ports[0])
                acl none hdr_cnt(x-a) eq 0
                acl two req.hdr_cnt(x-a) 2
                acl many hdr_cnt(x-a),mul(2) gt 5
                acl valued req.hdr_val(x-a) ge 0
                http-request return status 200 content-type text/plain string none if none
                http-request return status 202 content-type text/plain string two if two
                http-request return status 203 content-type text/plain string many if many
                http-request return status 204 if valued
                default_backend b
            backend b
                server o 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            try sets.map { lines in
                var request = "GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\n"
                for line in lines { request += "X-A: \(line)\r\n" }
                request += "\r\n"
                let answer = String(decoding: try Peers.exchange(port: ports[0], Array(request.utf8)), as: UTF8.self)
                return "\(lines): \(answer.split(separator: "\r\n").first ?? "")"
            }
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.contains { $0.hasPrefix("[\"a\", \"b\"]: HTTP/1.1 202") } && ours.contains { $0.hasPrefix("[]: HTTP/1.1 200") }, "\(ours)")
    }
}
