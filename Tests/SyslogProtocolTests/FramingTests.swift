import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import SyslogProtocol

@Suite("RFC 6587 framing")
struct FramingTests {
    /// Feeds `input` to a decoder in pieces of `chunk` bytes and returns the frames, with EOF at the end.
    func frames(
        _ input: [UInt8], chunk: Int = .max, configuration: SyslogFrameDecoder.Configuration = .init()
    ) -> [SyslogFrame] {
        var decoder = SyslogFrameDecoder(configuration: configuration)
        var buffer = ByteBuffer()
        var out: [SyslogFrame] = []
        var i = 0
        while i < input.count {
            let end = min(input.count, i + chunk)
            buffer.writeBytes(input[i..<end])
            i = end
            while let frame = decoder.nextFrame(&buffer, atEnd: false) { out.append(frame) }
            buffer.discardReadBytes()
        }
        while let frame = decoder.nextFrame(&buffer, atEnd: true) { out.append(frame) }
        return out
    }

    func payloads(_ frames: [SyslogFrame]) -> [String] {
        frames.map { String(buffer: $0.payload) }
    }

    @Test func mixedFramingOnOneConnection() {
        let input = Array("<13>lf one\n<13>lf two\n18 <13>octet\nembedded9 <13>third".utf8)
        for chunk in [1, 2, 3, 7, 1000] {
            let f = frames(input, chunk: chunk)
            #expect(payloads(f) == ["<13>lf one", "<13>lf two", "<13>octet\nembedded", "<13>third"], "chunk \(chunk)")
            #expect(f.map(\.octetCounted) == [false, false, true, true])
        }
    }

    @Test func countsAcrossBufferBoundaries() {
        let message = String(repeating: "x", count: 1234)
        let input = Array("1234 \(message)1 y".utf8)
        for chunk in [1, 2, 5, 100, 1233, 1240] {
            #expect(payloads(frames(input, chunk: chunk)) == [message, "y"], "chunk \(chunk)")
        }
    }

    @Test func garbageCounts() {
        // No space after the digits, a zero count, an absurd count: read as LF-delimited, flagged.
        let f = frames(Array("12x <13>a\n0 <13>b\n99999999999 <13>c\n".utf8))
        #expect(payloads(f) == ["12x <13>a", "0 <13>b", "99999999999 <13>c"])
        #expect(f.allSatisfy { $0.framingError })
        var small = SyslogFrameDecoder.Configuration()
        small.maxFrameSize = 100
        let big = frames(Array("101 <13>a\n".utf8), configuration: small)
        #expect(payloads(big) == ["101 <13>a"])
        #expect(big[0].framingError)
    }

    @Test func oversizeOctetCountedIsTruncated() {
        var config = SyslogFrameDecoder.Configuration()
        config.maxMessageSize = 10
        let input = Array("20 abcdefghijKLMNOPQRST3 end".utf8)
        for chunk in [1, 4, 100] {
            let f = frames(input, chunk: chunk, configuration: config)
            #expect(payloads(f) == ["abcdefghij", "end"], "chunk \(chunk)")
            #expect(f.map(\.truncated) == [true, false])
        }
    }

    @Test func oversizeDelimitedIsSplit() {
        var config = SyslogFrameDecoder.Configuration()
        config.maxMessageSize = 10
        for chunk in [1, 3, 100] {
            let f = frames(Array("<13>abcdefghijklmn\nexactly10!\nz".utf8), chunk: chunk, configuration: config)
            // The byte that overflows ("g") is dropped, as rsyslog's imtcp drops it (checked beside rsyslogd with
            // Python's SysLogHandler in LongMessageTests).
            #expect(payloads(f) == ["<13>abcdef", "hijklmn", "exactly10!", "z"], "chunk \(chunk)")
            #expect(f.map(\.split) == [true, false, false, false])
        }
    }

    @Test func defaultLimitIs8096() {
        let long = String(repeating: "a", count: 9000)
        let f = frames(Array("<13>\(long)\n".utf8))
        #expect(f.map { $0.payload.readableBytes } == [8096, 9004 - 8096 - 1], "the overflowing byte is dropped")
    }

    @Test func nulTrailerAndLeftovers() {
        var config = SyslogFrameDecoder.Configuration()
        config.additionalDelimiter = 0
        #expect(
            payloads(frames(Array("<13>a\u{0}<13>b\n<13>c".utf8), configuration: config)) == [
                "<13>a", "<13>b", "<13>c",
            ])
        // The peer closes in the middle of an octet-counted frame: what arrived is delivered.
        #expect(payloads(frames(Array("10 abc".utf8))) == ["abc"])
        #expect(payloads(frames(Array("".utf8))) == [])
        #expect(payloads(frames(Array("\n\n".utf8))) == ["", ""])
    }

    @Test func verifierAgreesOnSplitReads() throws {
        let pairs: [(String, [SyslogFrame])] = [
            ("5 hello", [SyslogFrame(payload: ByteBuffer(string: "hello"), octetCounted: true)]),
            ("<13>a b\n", [SyslogFrame(payload: ByteBuffer(string: "<13>a b"), octetCounted: false)]),
            (
                "3 abc<1>x\n",
                [
                    SyslogFrame(payload: ByteBuffer(string: "abc"), octetCounted: true),
                    SyslogFrame(payload: ByteBuffer(string: "<1>x"), octetCounted: false),
                ]
            ),
        ]
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: pairs, decoderFactory: { SyslogFrameDecoder() })
    }

    @Test func encoderRoundTrip() throws {
        let messages = ["<13>one", "<13>two\nlines", String(repeating: "z", count: 5000)]
        var stream = ByteBuffer()
        let encoder = SyslogFrameEncoder(framing: .octetCounting)
        for m in messages { try encoder.encode(data: ByteBuffer(string: m), out: &stream) }
        #expect(payloads(frames(Array(stream.readableBytesView))) == messages)
        var nothing = ByteBuffer()
        try encoder.encode(data: ByteBuffer(), out: &nothing)
        #expect(nothing.readableBytes == 0, "an empty message has no valid octet count and is not sent")
        #expect(
            String(decoding: SyslogFrameEncoder.frame(Array("abc".utf8), framing: .lineFeed), as: UTF8.self) == "abc\n")
        #expect(
            String(decoding: SyslogFrameEncoder.frame(Array("abc".utf8), framing: .octetCounting), as: UTF8.self)
                == "3 abc")
        // rsyslog's omfwd adds no second LF to a message that ends in one (checked beside it in InteropTests).
        #expect(SyslogFrameEncoder.frame(Array("abc\n".utf8), framing: .lineFeed) == Array("abc\n".utf8))
        var lf = ByteBuffer()
        try SyslogFrameEncoder(framing: .lineFeed).encode(data: ByteBuffer(string: "abc\n"), out: &lf)
        try SyslogFrameEncoder(framing: .lineFeed).encode(data: ByteBuffer(string: "def"), out: &lf)
        #expect(String(buffer: lf) == "abc\ndef\n")
    }

    @Test func decoderInAPipeline() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(SyslogFrameDecoder()))
        try channel.writeInbound(ByteBuffer(string: "5 hello<13>x\n<13>tail"))
        #expect(try channel.readInbound(as: SyslogFrame.self).map { String(buffer: $0.payload) } == "hello")
        #expect(try channel.readInbound(as: SyslogFrame.self).map { String(buffer: $0.payload) } == "<13>x")
        #expect(try channel.readInbound(as: SyslogFrame.self) == nil)
        _ = try channel.finish()
    }
}
