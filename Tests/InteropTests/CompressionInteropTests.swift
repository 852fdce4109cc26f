import Foundation
import TestSupport
import Testing

/// `compression algo|type|offload` beside HAProxy 2.6: for the same requests and responses, the same response heads
/// (Content-Length taken out, chunks, a weak ETag, Vary, Content-Encoding), bodies that decompress to the server's,
/// the same requests reaching the servers (`offload`), the same log lines (HAProxy logs the size it received).
/// The compressed bytes themselves differ (HAProxy 2.6 on Debian compresses with libslz, the proxy with zlib).
@Suite("Compression beside HAProxy", .serialized)
struct CompressionInteropTests {
    static let page = "<html>" + String(repeating: "tollgate compresses what HAProxy compresses. ", count: 120) + "</html>\n"

    /// A response's head as received, and its body de-chunked then decompressed (or as it came).
    static func read(_ response: [UInt8]) throws -> [String] {
        let end = Array("\r\n\r\n".utf8)
        guard let split = (0..<max(0, response.count - 3)).first(where: { Array(response[$0..<$0 + 4]) == end }) else {
            return ["no head: \(String(decoding: response.prefix(80), as: UTF8.self))"]
        }
        let head = String(decoding: response[..<split], as: UTF8.self).split(separator: "\r\n").map(String.init)
            .filter { !$0.lowercased().hasPrefix("date:") }
        var body = Array(response[(split + 4)...])
        if head.contains(where: { $0.lowercased() == "transfer-encoding: chunked" }) {
            var plain: [UInt8] = []
            var rest = body[...]
            while let lineEnd = rest.firstIndex(of: 0x0A), let size = Int(String(decoding: rest[..<lineEnd], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), radix: 16), size > 0 {
                let start = lineEnd + 1
                plain += rest[start..<min(start + size, rest.endIndex)]
                rest = rest[min(start + size + 2, rest.endIndex)...]
            }
            body = plain
        }
        var text = String(decoding: body, as: UTF8.self)
        if head.contains(where: { $0.lowercased().hasPrefix("content-encoding:") }) {
            let dir = try TemporaryDirectory(prefix: "inflate")
            let file = dir.file("body")
            try Data(body).write(to: URL(fileURLWithPath: file))
            let python = try Peers.find("python3")
            let r = try Peers.run(
                python,
                [
                    "-c",
                    "import zlib,sys\nd=open(sys.argv[1],'rb').read()\ntry: t=zlib.decompress(d, 47)\n"
                        + "except zlib.error: t=zlib.decompress(d, -15)\nsys.stdout.write(t.decode())", file,
                ])
            text = r.status == 0 ? String(decoding: r.stdout, as: UTF8.self) : "undecodable"
        }
        return head + ["body \(text == page ? "= page" : text.count < 100 ? text : "\(text.count) other bytes")"]
    }

    @Test func responsesCompressedAsHAProxyCompressesThem() async throws {
        let dir = try TemporaryDirectory(prefix: "compression")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let sized = try await RequestRecorder(
            reply: "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nETag: \"v1\"\r\n"
                + "Content-Length: \(Self.page.utf8.count)\r\n\r\n\(Self.page)")
        let half = Self.page.index(Self.page.startIndex, offsetBy: 2000)
        let (first, second) = (Self.page[..<half], Self.page[half...])
        let chunked = try await RequestRecorder(
            reply: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                + String(first.utf8.count, radix: 16) + "\r\n\(first)\r\n" + String(second.utf8.count, radix: 16)
                + "\r\n\(second)\r\n0\r\n\r\n")
        let image = try await RequestRecorder(
            reply: "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: \(Self.page.utf8.count)\r\n\r\n\(Self.page)")
        let results = try await besideHAProxy(ports: 3, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend web
                bind 127.0.0.1:\(ports[0])
                compression algo gzip deflate
                compression type text/html text/plain image/png
                use_backend chunked if { path_beg /chunked }
                default_backend sized
            backend sized
                server s 127.0.0.1:\(sized.port)
            backend chunked
                server c 127.0.0.1:\(chunked.port)
            listen offloaded
                bind 127.0.0.1:\(ports[1])
                compression algo raw-deflate identity
                compression offload
                server s 127.0.0.1:\(sized.port)
            listen typed
                bind 127.0.0.1:\(ports[2])
                compression algo deflate
                compression type text/
                server i 127.0.0.1:\(image.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            let cases: [(port: Int, path: String, extra: String)] = [
                (ports[0], "/", "Accept-Encoding: gzip"),
                (ports[0], "/", "Accept-Encoding: deflate;q=0.9, gzip;q=0.5"),
                (ports[0], "/", "Accept-Encoding: br, *"),
                (ports[0], "/", "Accept-Encoding: gzip;q=0"),
                (ports[0], "/", "Accept-Encoding: gzip\r\nUser-Agent: Mozilla/4.0 (compatible; Lynx)"),
                (ports[0], "/chunked", "Accept-Encoding: GZIP"),
                (ports[1], "/", "Accept-Encoding: deflate, gzip"),
                (ports[1], "/", "Accept-Encoding: br"),
                (ports[2], "/", "Accept-Encoding: deflate"),
            ]
            let before = sized.requests.count
            for c in cases {
                let response = try Peers.exchange(
                    port: c.port, Array("GET \(c.path) HTTP/1.1\r\nHost: x\r\n\(c.extra)\r\nConnection: close\r\n\r\n".utf8))
                seen.append("-- \(c.path) \(c.extra)")
                seen += try Self.read(response)
            }
            // HTTP/1.0 and HEAD are never compressed.
            for request in ["GET / HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", "HEAD / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"] {
                let response = try StickTableInteropTests.answer(port: ports[0], request)
                seen.append("-- " + request.prefix(8))
                seen += response.split(separator: "\r\n").prefix { !$0.isEmpty }.map(String.init)
                    .filter { !$0.lowercased().hasPrefix("date:") }
            }
            // What reached the sized server: with offload, no Accept-Encoding.
            seen += sized.requests.dropFirst(before).map { request in
                String(decoding: request, as: UTF8.self).lowercased().contains("accept-encoding") ? "ae sent" : "ae taken out"
            }
            let lines = await messages.take(waitingFor: cases.count + 2, seconds: 10) { $0.contains(" [") }
            return seen + lines.filter { $0.contains(" [") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        #expect(results["proxy"]?.contains("content-encoding: gzip") == true, "\(results)")
        #expect(results["proxy"]?.filter { $0 == "body = page" }.count == 9, "\(results)")
        try await sized.close()
        try await chunked.close()
        try await image.close()
    }
}
