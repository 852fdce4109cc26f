import Foundation
import TestSupport
import Testing

/// Map files beside HAProxy 2.6 (corpus file 15's virtual hosts): `use_backend %[req.hdr(host),lower,map(FILE,DEFAULT)]`,
/// an ACL through `map_str … -m found`, a header set from a map, `map_beg` on paths; a name no backend has goes to
/// the `default_backend`, as in HAProxy.
@Suite("Map-driven routing beside HAProxy", .serialized)
struct MapRoutingInteropTests {
    @Test func requestsReachTheBackendsTheMapsName() async throws {
        let dir = try TemporaryDirectory(prefix: "map-routing")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let www = try await RequestRecorder(reply: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nwww")
        let shop = try await RequestRecorder(reply: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nshop")
        let api = try await RequestRecorder(reply: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\napi")
        let hosts = dir.file("hosts.map")
        try """
            # host           backend
            www.example.com  be_www
            shop.example.com be_shop
              api.example.com   be_api\u{20}\u{20}
            old.example.com  be_missing

            """.write(toFile: hosts, atomically: true, encoding: .utf8)
        let paths = dir.file("paths.map")
        try "/static/ cdn\n/static/img/ images\n/api/v2/ v2\n".write(toFile: paths, atomically: true, encoding: .utf8)
        let results = try await besideHAProxy(ports: 1, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend vhosts
                bind 127.0.0.1:\(ports[0])
                acl known_vhost hdr(host),lower,map_str(\(hosts)) -m found
                http-request deny deny_status 404 unless known_vhost
                http-request set-header X-Backend %[req.hdr(host),lower,map(\(hosts),be_www)]
                http-request set-header X-Path-Class %[path,map_beg(\(paths),none)]
                use_backend %[req.hdr(host),lower,map(\(hosts),be_www)]
                default_backend be_www
            backend be_www
                server www 127.0.0.1:\(www.port)
            backend be_shop
                server shop 127.0.0.1:\(shop.port)
            backend be_api
                server api 127.0.0.1:\(api.port)

            """
        } _: { _, ports in
            let before = [www, shop, api].map { $0.requests.count }
            for (host, path) in [
                ("www.example.com", "/"), ("SHOP.example.com", "/static/img/a.png"), ("api.example.com", "/api/v2/x"),
                ("unknown.example.com", "/"), ("old.example.com", "/static/x"),
            ] {
                _ = try Peers.exchange(
                    port: ports[0], Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8))
            }
            let heads = zip([www, shop, api], before).flatMap { recorder, n in
                recorder.requests.dropFirst(n).map {
                    String(decoding: $0, as: UTF8.self).split(separator: "\r\n").filter { $0.hasPrefix("x-") || $0.hasPrefix("GET") }
                        .joined(separator: " | ")
                }
            }
            let lines = await messages.take(waitingFor: 5, seconds: 10) { $0.contains(" [") }
            return heads + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        print("maps: \(results["proxy"] ?? [])")
        #expect(results["proxy"]?.contains { $0.contains("be_shop/shop") } == true, "\(results)")
        for r in [www, shop, api] { try await r.close() }
    }
}
