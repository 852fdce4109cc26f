import LogCore
import NIOCore

/// One syslog message cut from a stream, with what happened to it on the way.
public struct SyslogFrame: Hashable, Sendable {
    /// The message bytes (without the count or the trailer).
    public var payload: ByteBuffer
    /// Whether the frame was octet-counted (else delimited by LF or another trailer).
    public var octetCounted: Bool
    /// An octet-counted frame longer than the size limit: the payload is its first `maxMessageSize` bytes and the
    /// rest was discarded (rsyslog: "received oversize message … truncating").
    public var truncated: Bool
    /// A delimited frame longer than the size limit: this payload is one piece and the rest follows as new
    /// messages (rsyslog imtcp's default).
    public var split: Bool
    /// The frame started with a digit but was not a valid octet count (no space after it, zero, too large): it was
    /// read as a delimited frame instead, as rsyslog does after a framing error.
    public var framingError: Bool

    public init(
        payload: ByteBuffer, octetCounted: Bool, truncated: Bool = false, split: Bool = false,
        framingError: Bool = false
    ) {
        self.payload = payload
        self.octetCounted = octetCounted
        self.truncated = truncated
        self.split = split
        self.framingError = framingError
    }
}

/// RFC 6587 framing as rsyslog's imtcp reads it, decided per frame: a frame that starts with a digit is
/// octet-counted (`MSG-LEN SP MSG`), anything else ends at a LF (or an additional trailer such as NUL).
/// Data left when the peer closes is delivered as a final message.
public struct SyslogFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = SyslogFrame

    /// Settings with imtcp's defaults.
    public struct Configuration: Hashable, Sendable {
        /// `supportOctetCountedFraming` (on).
        public var octetCounting = true
        /// `addtlFrameDelimiter`: another byte that ends a delimited frame (e.g. 0 for NUL-terminated senders).
        public var additionalDelimiter: UInt8?
        /// `disableLFDelimiter`.
        public var lineFeedDelimiter = true
        /// `maxMessageSize` (8096).
        public var maxMessageSize = SyslogParseOptions.defaultMaxMessageSize
        /// `maxFrameSize` (200000): larger octet counts are framing errors.
        public var maxFrameSize = 200_000

        public init() {}
    }

    public var configuration: Configuration
    /// Bytes of an over-long octet-counted frame still to be skipped.
    private var discarding = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = nextFrame(&buffer, atEnd: false) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        guard let frame = nextFrame(&buffer, atEnd: true) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    /// The next complete frame in `buffer`, consuming it; nil when more bytes are needed. With `atEnd`, bytes
    /// that no more data can complete are returned as a last frame.
    public mutating func nextFrame(_ buffer: inout ByteBuffer, atEnd: Bool) -> SyslogFrame? {
        if discarding > 0 {
            let skip = min(discarding, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: skip)
            discarding -= skip
            if discarding > 0 { return nil }
        }
        guard let first = buffer.readableBytesView.first else { return nil }
        var framingError = false
        if configuration.octetCounting && ASCII.isDigit(first) {
            switch readCount(buffer) {
            case .needMore:
                if !atEnd { return nil }
                framingError = true
            case .invalid:
                framingError = true
            case .count(let count, let headerLength):
                let available = buffer.readableBytes - headerLength
                let keep = min(count, configuration.maxMessageSize)
                if available < keep {
                    guard atEnd else { return nil }
                    // The peer closed inside the frame: deliver what arrived, as rsyslog submits leftovers.
                    buffer.moveReaderIndex(forwardBy: headerLength)
                    guard let payload = buffer.readSlice(length: available) else { return nil }
                    return SyslogFrame(payload: payload, octetCounted: true)
                }
                buffer.moveReaderIndex(forwardBy: headerLength)
                guard let payload = buffer.readSlice(length: keep) else { return nil }
                let rest = count - keep
                if rest > 0 {
                    let skip = min(rest, buffer.readableBytes)
                    buffer.moveReaderIndex(forwardBy: skip)
                    discarding = rest - skip
                }
                return SyslogFrame(payload: payload, octetCounted: true, truncated: rest > 0)
            }
        }
        return delimitedFrame(&buffer, atEnd: atEnd, framingError: framingError)
    }

    private enum CountResult {
        case count(Int, headerLength: Int)
        case needMore
        case invalid
    }

    private func readCount(_ buffer: ByteBuffer) -> CountResult {
        let view = buffer.readableBytesView
        var value = 0
        var digits = 0
        for b in view {
            if ASCII.isDigit(b) {
                digits += 1
                if digits > 9 { return .invalid }
                value = value * 10 + Int(b &- 0x30)
                continue
            }
            guard b == 0x20, value >= 1, value <= configuration.maxFrameSize else { return .invalid }
            return .count(value, headerLength: digits + 1)
        }
        return .needMore
    }

    private func isDelimiter(_ b: UInt8) -> Bool {
        (b == 0x0A && configuration.lineFeedDelimiter) || (configuration.additionalDelimiter == b)
    }

    private func delimitedFrame(_ buffer: inout ByteBuffer, atEnd: Bool, framingError: Bool) -> SyslogFrame? {
        let view = buffer.readableBytesView
        let limit = configuration.maxMessageSize
        var length = 0
        for b in view {
            if isDelimiter(b) {
                guard let payload = buffer.readSlice(length: length) else { return nil }
                buffer.moveReaderIndex(forwardBy: 1)
                return SyslogFrame(payload: payload, octetCounted: false, framingError: framingError)
            }
            length += 1
            if length == limit {
                // Over-long: this piece is one message; the rest of the line follows as new messages.
                let next = view.dropFirst(length).first
                // Exactly `limit` bytes so far and no delimiter yet: it may still come.
                if next == nil && !atEnd { return nil }
                let endsHere = next.map(isDelimiter) ?? false
                guard let payload = buffer.readSlice(length: length) else { return nil }
                // The delimiter goes; so does the byte that did not fit (rsyslog's tcps_sess drops the character
                // that overflows its buffer: the next piece starts after it).
                if next != nil { buffer.moveReaderIndex(forwardBy: 1) }
                return SyslogFrame(
                    payload: payload, octetCounted: false, split: !endsHere && next != nil,
                    framingError: framingError)
            }
        }
        guard atEnd, length > 0, let payload = buffer.readSlice(length: length) else { return nil }
        return SyslogFrame(payload: payload, octetCounted: false, framingError: framingError)
    }
}

/// Writes syslog messages to a stream with RFC 6587 framing.
public struct SyslogFrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = ByteBuffer

    public enum Framing: Hashable, Sendable {
        /// `MSG-LEN SP MSG`: binary-safe, what rsyslog's `@@(o)` and TLS syslog use.
        case octetCounting
        /// `MSG LF`: what `@@host` sends; a LF inside a message breaks it.
        case lineFeed
    }

    public var framing: Framing

    public init(framing: Framing = .octetCounting) {
        self.framing = framing
    }

    /// Writes one framed message. An empty message is not written: `0` is not a valid count, and an empty line
    /// carries nothing.
    public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        guard data.readableBytes > 0 else { return }
        switch framing {
        case .octetCounting:
            var header: [UInt8] = []
            header.appendDecimal(data.readableBytes)
            header.append(0x20)
            out.writeBytes(header)
            out.writeImmutableBuffer(data)
        case .lineFeed:
            out.writeImmutableBuffer(data)
            if data.getInteger(at: data.readerIndex + data.readableBytes - 1, as: UInt8.self) != 0x0A {
                out.writeInteger(UInt8(0x0A))
            }
        }
    }

    /// The framed bytes of one message.
    public static func frame(_ message: some Collection<UInt8>, framing: Framing) -> [UInt8] {
        var out: [UInt8] = []
        append(message, framing: framing, to: &out)
        return out
    }

    /// Appends one framed message to `out`. LF framing adds no second LF to a message that already ends in one
    /// (a template such as `RSYSLOG_SyslogProtocol23Format`), as rsyslog's omfwd does.
    public static func append(_ message: some Collection<UInt8>, framing: Framing, to out: inout [UInt8]) {
        switch framing {
        case .octetCounting:
            out.appendDecimal(message.count)
            out.append(0x20)
            out.append(contentsOf: message)
        case .lineFeed:
            out.append(contentsOf: message)
            if message.isEmpty || out.last != 0x0A { out.append(0x0A) }
        }
    }
}
