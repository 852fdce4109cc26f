import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Proxy

/// The proxy's own HTTP/1 reading: request and response heads parsed in place, chunked bodies taken apart however
/// the reads split them, and the client side's reader passing on the same parts whatever the reads.
@Suite("Request and response heads and chunked bodies, read in place")
struct HTTPHeadTests {
    func head(_ text: String, headRequest: Bool = false) throws -> HTTPHead {
        let buffer = ByteBuffer(string: text)
        let length = try #require(HTTPHead.headLength(in: buffer))
        #expect(length == buffer.readableBytes, "the head is the whole text")
        return try HTTPHead.response(buffer.getSlice(at: 0, length: length) ?? buffer, headRequest: headRequest)
    }

    @Test func aTypicalResponse() throws {
        let h = try head(
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                + "Connection: keep-alive\r\nX-Blank:   padded value  \r\n\r\n")
        #expect(h.status == 200 && h.isHTTP11 && String(buffer: ByteBuffer(h.view(h.reason))) == "OK")
        #expect(h.framing == .sized(3))
        #expect(h.fields.count == 5)
        #expect(h.hasToken("keep-alive", in: "connection") && !h.hasToken("close", in: "connection"))
        let listed = try head("HTTP/1.1 200 OK\r\nConnection: Upgrade , CLOSE,\r\n\r\n")
        #expect(listed.hasToken("close", in: "connection") && listed.hasToken("upgrade", in: "connection"))
        #expect(!listed.hasToken("keep-alive", in: "connection"))
        #expect(h.firstValue(of: "X-BLANK", limit: 100) == "padded value")
        #expect(h.firstValue(of: "server", limit: 3) == "ngi")
        #expect(h.firstValue(of: "absent", limit: 3) == nil)
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n", HTTPHead.Framing.chunked),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .untilClose),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,chunked , \r\n\r\n", .chunked),
        ("HTTP/1.1 200 OK\r\nConnection: keep-alive,close\r\nContent-Length: 1\r\n\r\n", .sized(1)),
        ("HTTP/1.0 200 OK\r\n\r\n", .untilClose),
        ("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", .none),
        ("HTTP/1.1 304 Not Modified\r\n\r\n", .none),
        ("HTTP/1.1 100 Continue\r\n\r\n", .none),
        ("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", .sized(0)),
        ("HTTP/1.1 200 OK\nContent-Length: 7\nContent-Length: 7\n\n", .sized(7)),
    ])
    func framing(text: String, expected: HTTPHead.Framing) throws {
        #expect(try head(text).framing == expected)
    }

    @Test func offsetsCountFromTheReaderIndex() throws {
        var buffer = ByteBuffer(string: "XXXXHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: s\r\n\r\n")
        buffer.moveReaderIndex(forwardBy: 4)
        let h = try HTTPHead.response(buffer, headRequest: false)
        #expect(h.framing == .chunked && h.firstValue(of: "server", limit: 9) == "s")
        #expect(h.hasToken("chunked", in: "transfer-encoding"))
    }

    @Test func aResponseToHEADHasNoBody() throws {
        #expect(try head("HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n", headRequest: true).framing == .none)
    }

    /// What a desync or a broken server looks like is refused (the proxy answers 502 and logs `PH`).
    @Test(arguments: [
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nName : x\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\u{01}c\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
    ])
    func invalidHeads(text: String) throws {
        #expect(throws: MalformedHTTP.self) { try head(text) }
    }

    @Test func theEndOfAHeadIsFoundAcrossReads() {
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nA: b\r\n\r")
        #expect(HTTPHead.headLength(in: buffer) == nil)
        let searched = buffer.readableBytes
        buffer.writeString("\nbody")
        #expect(HTTPHead.headLength(in: buffer, from: searched) == buffer.readableBytes - 4)
        #expect(HTTPHead.headLength(in: ByteBuffer(string: "HTTP/1.1 200 OK\n\nrest")) == 17)
    }

    /// A chunked body split at every possible place gives the same data and one end.
    @Test func chunkedBodiesDecodeHoweverTheyAreSplit() throws {
        let wire = "4;name=value\r\nWiki\r\n5\r\npedia\r\nE \r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT"
        let bytes = Array(wire.utf8)
        for cut in 0...bytes.count {
            for second in cut...bytes.count where second == cut || second == bytes.count || (second - cut) % 7 == 0 {
                var decoder = ChunkedBodyDecoder()
                var data: [UInt8] = []
                var ends = 0
                var rest: [UInt8] = []
                for piece in [bytes[0..<cut], bytes[cut..<second], bytes[second...]] {
                    var input = ByteBuffer(bytes: piece)
                    while ends == 0, let event = try decoder.next(&input) {
                        switch event {
                        case .data(let b): data += Array(b.readableBytesView)
                        case .end: ends += 1
                        }
                    }
                    if ends == 1 { rest += Array(input.readableBytesView) }
                }
                let decoded = String(decoding: data, as: UTF8.self)
                let after = String(decoding: rest, as: UTF8.self)
                let ended = ends
                #expect(decoded == "Wikipedia in\r\n\r\nchunks.", "cut at \(cut)")
                #expect(ended == 1 && after == "NEXT", "cut at \(cut), \(second)")
            }
        }
    }

    @Test(arguments: ["x\r\n", "\r\n", "4\r\nWikiXX\r\n", "10000000000000000\r\n", "4 4\r\n"])
    func invalidChunks(text: String) {
        var decoder = ChunkedBodyDecoder()
        var input = ByteBuffer(string: text + "Wiki\r\n0\r\n\r\n")
        #expect(throws: MalformedHTTP.self) {
            while try decoder.next(&input) != nil {}
        }
    }

    @Test func aFramingLineWithoutEndIsRefusedOnceTooLong() {
        var decoder = ChunkedBodyDecoder()
        var input = ByteBuffer(string: "4;" + String(repeating: "e", count: 5000))
        #expect(throws: MalformedHTTP.self) { _ = try decoder.next(&input) }
    }

    func request(_ text: String) throws -> (HTTPRequestHead, HTTPHead.RequestFraming) {
        let buffer = ByteBuffer(string: text)
        let length = try #require(HTTPHead.headLength(in: buffer))
        return try HTTPHead.request(buffer.getSlice(at: 0, length: length) ?? buffer)
    }

    @Test func typicalRequests() throws {
        var (head, framing) = try request("GET /a?b=c HTTP/1.1\r\nHost: example.org\r\nX-Pad:  v  \r\n\r\n")
        #expect(head.method == .GET && head.uri == "/a?b=c" && head.version == .http1_1 && framing == .none)
        #expect(head.headers["host"] == ["example.org"] && head.headers["x-pad"] == ["v"])
        (head, framing) = try request("POST /p HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n")
        #expect(head.method == .POST && framing == .sized(5))
        (head, framing) = try request("PUT / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        #expect(framing == .chunked)
        (head, framing) = try request("PURGE /x HTTP/1.0\nContent-Length: 0\n\n")
        #expect(head.method == .RAW(value: "PURGE") && head.version == .http1_0 && framing == .none)
    }

    /// Requests a proxy must not pass on: each is a 400 (`PR--`) before any server sees it.
    @Test(arguments: [
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / HTTP/1.10\r\n\r\n",
        "GET /\u{7F} HTTP/1.1\r\n\r\n",
        "GET /\u{E9} HTTP/1.1\r\n\r\n",
        "G@T / HTTP/1.1\r\n\r\n",
        "GET /\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3 3\r\n\r\n",
        "GET / HTTP/1.1\r\nX : y\r\n\r\n",
        "GET / HTTP/1.1\r\nX: y\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\u{0}b\r\n\r\n",
        "GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 102) + "\r\n",
    ])
    func invalidRequests(text: String) {
        #expect(throws: MalformedHTTP.self) { try request(text) }
    }

    /// Pipelined requests with both body framings, split into two reads at every place: the reader passes on the
    /// same parts (bodies joined) each time.
    @Test func theReaderPassesOnTheSamePartsWhateverTheReads() throws {
        let wire =
            "\r\nGET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
            + "POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n1;e\r\nz\r\n0\r\n\r\n"
            + "GET /4 HTTP/1.0\r\n\r\n"
        let bytes = Array(wire.utf8)
        let expected = "head GET /1|end|head POST /2|body abc|end|head POST /3|body xyz|end|head GET /4|end"
        for cut in 0...bytes.count {
            let channel = EmbeddedChannel()
            let reader = HTTPRequestReader(headLimit: 16_384)
            try channel.pipeline.syncOperations.addHandler(reader)
            try channel.writeInbound(ByteBuffer(bytes: bytes[0..<cut]))
            try channel.writeInbound(ByteBuffer(bytes: bytes[cut...]))
            var parts: [String] = []
            var body = ""
            while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
                switch part {
                case .head(let h): parts.append("head \(h.method.rawValue) \(h.uri)")
                case .body(let b): body += String(buffer: b)
                case .end:
                    if !body.isEmpty { parts.append("body \(body)") }
                    body = ""
                    parts.append("end")
                }
            }
            let seen = parts.joined(separator: "|")
            #expect(seen == expected, "cut at \(cut)")
            #expect(reader.bytesIn == Int64(bytes.count))
            _ = try channel.finish()
        }
    }

    @Test func headsOverTheLimitAre414Or431() throws {
        for (text, expected) in [
            ("GET /" + String(repeating: "u", count: 200), HeadTooLarge.uri),
            ("GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 200), HeadTooLarge.headers),
            ("GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 200) + "\r\n\r\n", HeadTooLarge.headers),
        ] {
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(HTTPRequestReader(headLimit: 100))
            #expect(throws: expected) { try channel.writeInbound(ByteBuffer(string: text)) }
            _ = try? channel.finish()
        }
    }

    /// Malformed input never crashes the readers: 30,000 inputs made of HTTP's own pieces and random bytes (a fixed
    /// seed, so a failure can be replayed) go through the request and response parsers and the chunk decoder; each
    /// is read or refused with `MalformedHTTP`. Debug builds check every byte access, so a read past the end traps.
    @Test func arbitraryBytesAreReadOrRefusedNeverACrash() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let pieces = [
            "GET", "POST", " ", "/", "HTTP/1.", "1", "0", "\r\n", "\n", "\r", ":", "Host", "Content-Length", "5",
            "Transfer-Encoding", "chunked", ",", ";", "\t", "200", "HTTP/1.1 200 OK", "0\r\n\r\n", "ffff", "\u{0}",
            "\u{7F}", "\u{FF}", "a",
        ].map { Array($0.utf8) }
        for _ in 0..<30_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(next() % 24) {
                if next() % 5 == 0 {
                    bytes.append(UInt8(truncatingIfNeeded: next()))
                } else {
                    bytes += pieces[Int(next() % UInt64(pieces.count))]
                }
            }
            let buffer = ByteBuffer(bytes: bytes)
            if let length = HTTPHead.headLength(in: buffer), let head = buffer.getSlice(at: 0, length: length) {
                do { _ = try HTTPHead.request(head) } catch is MalformedHTTP {}
                do { _ = try HTTPHead.response(head, headRequest: false) } catch is MalformedHTTP {}
            }
            var decoder = ChunkedBodyDecoder()
            var input = buffer
            do { while try decoder.next(&input) != nil {} } catch is MalformedHTTP {}
        }
    }
}
