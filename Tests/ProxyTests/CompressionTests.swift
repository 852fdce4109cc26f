import CZlib
import NIOCore
import NIOHTTP1
import Testing

@testable import Proxy

/// HAProxy 2.6's compression filter's decisions, as a spec (the live comparison is `CompressionInteropTests`), and
/// the zlib layer.
@Suite("Compression")
struct CompressionTests {
    static func settings(_ algorithms: [CompressionSettings.Algorithm], types: [String] = []) -> CompressionSettings {
        var s = CompressionSettings()
        s.algorithms = algorithms
        s.types = types
        return s
    }

    @Test func theAlgorithmIsTheBestQValueTheFirstAmongEquals() {
        // `compression algo gzip deflate` is held last-written first.
        let s = Self.settings([.deflate, .gzip])
        func chosen(_ values: [Substring], agent: Substring? = nil) -> CompressionSettings.Algorithm? {
            Compression.algorithm(acceptEncoding: values, userAgent: agent, s)
        }
        #expect(chosen(["gzip", " deflate"]) == .gzip)
        #expect(chosen(["deflate", " gzip"]) == .deflate)
        #expect(chosen(["gzip;q=0.5", " deflate;q=0.6"]) == .deflate)
        #expect(chosen(["gzip;q=0"]) == nil, "q=0 refuses")
        #expect(chosen(["br", " *"]) == .deflate, "* takes the first held, the last written")
        #expect(chosen(["GZip"]) == .gzip, "letters without case")
        #expect(chosen(["gzipx"]) == nil)
        #expect(chosen(["gzip"], agent: "Mozilla/4.0 (compatible; Lynx)") == nil)
        #expect(chosen(["gzip"], agent: "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1)") == .gzip)
        #expect(chosen(["gzip"], agent: "Mozilla/5.0 (X11; Linux x86_64)") == .gzip)
        #expect(Compression.fallback(Self.settings([.identity, .gzip])) == .identity)
    }

    @Test func responsesThatAreNotCompressed() throws {
        let s = Self.settings([.gzip], types: ["text/"])
        func compresses(_ head: String, method: HTTPMethod = .GET, version: HTTPVersion = .http1_1) throws -> Bool {
            let parsed = try HTTPHead.response(ByteBuffer(string: head + "\r\n\r\n"), headRequest: method == .HEAD)
            return Compression.compresses(parsed, requestMethod: method, requestVersion: version, s)
        }
        let ok = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10"
        #expect(try compresses(ok))
        #expect(try !compresses(ok, method: .HEAD))
        #expect(try !compresses(ok, version: .http1_0))
        #expect(try !compresses("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10"))
        #expect(try !compresses("HTTP/1.1 206 Partial\r\nContent-Type: text/html\r\nContent-Length: 10"))
        #expect(try !compresses("HTTP/1.1 200 OK\r\nContent-Type: text/html"), "a body up to the close")
        #expect(try !compresses(ok + "\r\nContent-Encoding: br"))
        #expect(try !compresses(ok + "\r\nCache-Control: public, no-transform"))
        #expect(try !compresses(ok + "\r\nETag: abc"), "a malformed ETag")
        #expect(try !compresses(ok + "\r\nETag: \"a\"\r\nETag: \"b\""))
        #expect(try compresses(ok + "\r\nETag: W/\"a\""))
        #expect(try !compresses("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 10"))
        #expect(try !compresses("HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed\r\nContent-Length: 10"))
        #expect(try !compresses("HTTP/1.1 200 OK\r\nContent-Length: 10"), "a type is required with 'compression type'")
    }

    /// The zlib layer: parts compressed and flushed one by one, then finished, inflate back to the whole.
    @Test(arguments: [Deflater.Format.gzip, .zlib, .raw])
    func partsInflateBackToTheWhole(_ format: Deflater.Format) throws {
        let deflater = try #require(Deflater(format, level: 1))
        let allocator = ByteBufferAllocator()
        let text = String(repeating: "Tollgate keeps every connection. ", count: 4000)
        var compressed: [UInt8] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let part = rest.prefix(7000)
            rest = rest.dropFirst(part.count)
            let out = deflater.compress(ByteBuffer(string: String(part)), finish: false, allocator: allocator)
            #expect(out.readableBytes > 0, "each part is flushed")
            compressed += out.readableBytesView
        }
        compressed += deflater.compress(nil, finish: true, allocator: allocator).readableBytesView
        #expect(deflater.compress(nil, finish: true, allocator: allocator).readableBytes == 0, "finished once")
        #expect(compressed.count < text.utf8.count / 10)

        var stream = z_stream()
        let bits: Int32 = format == .raw ? -15 : format == .gzip ? 31 : 15
        #expect(inflateInit2_(&stream, bits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: text.utf8.count + 16)
        let status = compressed.withUnsafeMutableBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = input.baseAddress
                stream.avail_in = UInt32(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = UInt32(out.count)
                return inflate(&stream, Z_FINISH)
            }
        }
        #expect(status == Z_STREAM_END)
        #expect(String(decoding: output.prefix(Int(stream.total_out)), as: UTF8.self) == text)
    }
}
