import NIOCore

/// A message's body as it arrives after its head, by length, in chunks or up to the close, handed on as slices
/// of what was read (the framing taken off). Requests and responses are read with the same one.
struct HTTPBodyReader {
    enum Event {
        case data(ByteBuffer)
        case end
    }

    private enum State {
        case sized(remaining: Int)
        case chunked(ChunkedBodyDecoder)
        case untilClose
    }
    private var state: State

    init(sized length: Int) { state = .sized(remaining: length) }
    static var chunked: HTTPBodyReader { HTTPBodyReader(state: .chunked(ChunkedBodyDecoder())) }
    /// A response without a length: everything until the server closes (the close is its end).
    static var untilClose: HTTPBodyReader { HTTPBodyReader(state: .untilClose) }
    private init(state: State) { self.state = state }

    var endsWithTheClose: Bool {
        if case .untilClose = state { return true }
        return false
    }

    /// The next piece of the body in `input` (consumed from it), its end, or nil when `input` holds no more of it.
    mutating func next(_ input: inout ByteBuffer) throws -> Event? {
        switch state {
        case .sized(let remaining):
            if remaining == 0 { return .end }
            guard input.readableBytes > 0 else { return nil }
            let count = min(remaining, input.readableBytes)
            guard let data = input.readSlice(length: count) else { return nil }
            state = .sized(remaining: remaining - count)
            return .data(data)
        case .chunked(var decoder):
            state = .untilClose  // the decoder is held outside the enum while it works (no copy of its line)
            defer { state = .chunked(decoder) }
            return try decoder.next(&input)
        case .untilClose:
            guard input.readableBytes > 0, let data = input.readSlice(length: input.readableBytes) else { return nil }
            return .data(data)
        }
    }
}

/// Chunked framing as HAProxy writes it (sizes in upper-case hex), for bodies whose framing was taken off on the
/// way in.
enum ChunkFraming {
    /// Writes `body` as one chunk; returns the bytes written with the framing.
    @discardableResult
    static func write(_ body: ByteBuffer, on context: ChannelHandlerContext) -> Int {
        var size = context.channel.allocator.buffer(capacity: 18)
        size.writeString(String(body.readableBytes, radix: 16, uppercase: true))
        size.writeString("\r\n")
        let framing = size.readableBytes + 2
        context.write(NIOAny(size), promise: nil)
        context.write(NIOAny(body), promise: nil)
        context.write(NIOAny(ByteBuffer(string: "\r\n")), promise: nil)
        return body.readableBytes + framing
    }

    /// The last chunk, with no trailers.
    static var lastChunk: ByteBuffer { ByteBuffer(string: "0\r\n\r\n") }
}

/// Takes the chunked framing off a body as it arrives: sizes in hex (extensions ignored), data handed on as slices
/// of what was read, trailers dropped. Framing lines may be split across reads; each is at most 4 KiB.
struct ChunkedBodyDecoder {
    typealias Event = HTTPBodyReader.Event

    private enum State { case sizeLine, data(Int), dataEnd, trailer }
    private var state = State.sizeLine
    /// The framing line being read (it may come in pieces).
    private var line: [UInt8] = []
    static let lineLimit = 4096

    /// The next piece of the body in `input` (consumed from it), or nil when `input` holds no more of it yet.
    mutating func next(_ input: inout ByteBuffer) throws -> Event? {
        while input.readableBytes > 0 {
            if case .data(let remaining) = state {
                let count = min(remaining, input.readableBytes)
                guard let data = input.readSlice(length: count) else { return nil }
                state = count == remaining ? .dataEnd : .data(remaining - count)
                return .data(data)
            }
            guard try readLine(&input) else { return nil }
            switch state {
            case .sizeLine:
                let size = try chunkSize()
                state = size == 0 ? .trailer : .data(size)
            case .dataEnd:
                guard line.isEmpty else { throw MalformedHTTP(offset: input.readerIndex) }
                state = .sizeLine
            case .trailer:
                if line.isEmpty {
                    state = .sizeLine
                    return .end
                }
                line.removeAll(keepingCapacity: true)
            case .data: break
            }
        }
        return nil
    }

    /// Reads up to the next line end into `line` (without it); false when the line goes on in a later read.
    private mutating func readLine(_ input: inout ByteBuffer) throws -> Bool {
        let end = input.readableBytesView.firstIndex(of: 0x0A)
        let available = (end ?? input.writerIndex) - input.readerIndex
        guard line.count + available <= ChunkedBodyDecoder.lineLimit else {
            throw MalformedHTTP(offset: input.readerIndex)
        }
        line.append(contentsOf: input.readableBytesView.prefix(available))
        input.moveReaderIndex(forwardBy: available)
        guard end != nil else { return false }
        input.moveReaderIndex(forwardBy: 1)
        if line.last == 0x0D { line.removeLast() }
        return true
    }

    /// The size on a chunk's line: hex digits, then optionally blanks and `;` extensions.
    private mutating func chunkSize() throws -> Int {
        defer { line.removeAll(keepingCapacity: true) }
        var size = 0
        var digits = 0
        for byte in line {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - 0x57)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - 0x37)
            default: value = -1
            }
            if value < 0 { break }
            digits += 1
            guard digits <= 15 else { throw MalformedHTTP(offset: 0) }
            size = size * 16 + value
        }
        // After the digits, only blanks, then an extension (`;name=value`) or nothing.
        let rest = line[digits...].trimmingBlanks
        guard digits > 0, rest.isEmpty || rest.first == UInt8(ascii: ";") else { throw MalformedHTTP(offset: 0) }
        return size
    }
}
