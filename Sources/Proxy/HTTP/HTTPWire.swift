import LogCore
import NIOCore
import NIOHTTP1

/// The client side's byte counter, first in the client's pipeline: bytes read and written (the log's `%B` is
/// the bytes written for one response) and when the first byte of the next request arrived (the start of `TR`
/// and of `Ta`, the request's date).
final class HTTPWireMeter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private(set) var bytesIn: Int64 = 0
    private(set) var bytesOut: Int64 = 0
    /// When the first byte since `expectRequest()` arrived; nil while none has.
    private(set) var firstByte: NIODeadline?
    private(set) var firstByteDate: CivilTime?

    /// The most a request's line and headers may take (HAProxy's `tune.bufsize`).
    let headLimit: Int
    /// Bytes of the awaited request's head read so far, and whether its request line is complete; nil once the
    /// head has been parsed.
    private var headBytes: Int? = 0
    /// Where the request line ended within the head, once it has.
    private var lineEnd: Int?
    /// Line ends just read with nothing between them (the blank line that ends a head may span two reads).
    private var newlines = 0

    init(headLimit: Int) { self.headLimit = headLimit }

    /// The next byte read starts a new request.
    func expectRequest() {
        firstByte = nil
        firstByteDate = nil
        headBytes = 0
        lineEnd = nil
        newlines = 0
    }

    /// The offset just past the first `\r\n\r\n` (or `\n\n`) in `view`, if there is one; `newlines` carries the
    /// line ends seen at the end of the previous read (a blank line split between two reads).
    static func headEnd(in view: ByteBufferView, newlines: inout Int) -> Int? {
        for (offset, byte) in view.enumerated() {
            switch byte {
            case 0x0A:
                newlines += 1
                if newlines == 2 {
                    newlines = 0
                    return offset + 1
                }
            case 0x0D: continue
            default: newlines = 0
            }
        }
        return nil
    }

    /// The awaited request's head is complete.
    func headReceived() { headBytes = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if firstByte == nil && buffer.readableBytes > 0 {
            firstByte = .now()
            firstByteDate = CivilTime.now()
        }
        bytesIn += Int64(buffer.readableBytes)
        if let counted = headBytes {
            // Only the head counts (a body in the same read does not): up to its blank line, if it is here.
            let view = buffer.readableBytesView
            var length = view.count
            if let end = HTTPWireMeter.headEnd(in: view, newlines: &newlines) {
                length = end
                headBytes = nil
            } else {
                headBytes = counted + length
            }
            if lineEnd == nil, let index = view.firstIndex(of: 0x0A) {
                lineEnd = counted + index - view.startIndex
            }
            // A head that never ends is refused before it fills memory: 414 while the request line is still
            // coming, 431 once headers are.
            if counted + length > headLimit {
                headBytes = nil
                let lineTooLong = lineEnd.map { $0 > headLimit } ?? true
                context.fireErrorCaught(lineTooLong ? HeadTooLarge.uri : HeadTooLarge.headers)
                return
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        bytesOut += Int64(unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }
}

/// A request whose head is larger than the proxy accepts.
enum HeadTooLarge: Error { case uri, headers }

/// HTTP/1 heads written as HAProxy 2.6 writes them: header names in lower case (its HTX representation keeps
/// them so), values as received.
enum HTTPHeadWriter {
    /// A request's headers with lower-case names, as HAProxy sends them on.
    static func lowerCased(_ headers: HTTPHeaders) -> HTTPHeaders {
        guard headers.contains(where: { $0.name.utf8.contains { $0 >= 0x41 && $0 <= 0x5A } }) else { return headers }
        return HTTPHeaders(headers.map { ($0.name.lowercased(), $0.value) })
    }

    /// Writes a server's response head as HAProxy 2.6 passes it on: `HTTP/1.1` whatever the server spoke, the
    /// server's `Connection` header dropped (the client's connection is the proxy's own) and, when `connection` is
    /// given, `connection: close` or `keep-alive` added for the client. Returns the size HAProxy logs for the head
    /// (`%B` counts its internal form: 21 bytes of start-line structure, the version, status and reason text, and
    /// each header's name and value, the dropped and added ones aside; checked against HAProxy 2.6.12).
    static func response(
        _ head: HTTPHead, into out: inout ByteBuffer, connection: String?, dropTransferEncoding: Bool = false
    ) -> Int64 {
        let reason = head.view(head.reason)
        out.writeString("HTTP/1.1 ")
        out.writeString(String(head.status))
        out.writeInteger(UInt8(ascii: " "))
        out.writeBytes(reason)
        out.writeString("\r\n")
        var counted = 21 + 8 + 3 + reason.count
        for field in head.fields {
            if head.field(field, isNamed: "connection") { continue }
            if dropTransferEncoding && head.field(field, isNamed: "transfer-encoding") { continue }
            let name = head.view(field.name)
            let value = head.view(field.value)
            for byte in name { out.writeInteger((byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte) }
            out.writeString(": ")
            out.writeBytes(value)
            out.writeString("\r\n")
            counted += name.count + value.count
        }
        if let connection { writeHeader("connection", connection, into: &out) }
        out.writeString("\r\n")
        return Int64(counted)
    }

    private static func writeHeader(_ name: String, _ value: String, into out: inout ByteBuffer) {
        for byte in name.utf8 {
            out.writeInteger((byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte)
        }
        out.writeString(": ")
        out.writeString(value)
        out.writeString("\r\n")
    }
}

extension HTTPHeaders {
    /// Whether a comma-separated header (`Connection`, `Transfer-Encoding`) holds `token` (lower case),
    /// case-insensitively, without building strings: it runs for each request and response.
    func hasToken(_ token: String, in name: String) -> Bool {
        for (field, value) in self where HTTPHeaders.equalsIgnoringCase(field, name) {
            for item in value.utf8.split(separator: UInt8(ascii: ",")) {
                let trimmed = item.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }
                if trimmed.count == token.utf8.count
                    && zip(trimmed.reversed(), token.utf8).allSatisfy({ ($0 | 0x20) == $1 })
                {
                    return true
                }
            }
        }
        return false
    }

    /// ASCII case-insensitive equality, `b` in lower case.
    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { ($0 | 0x20) == $1 }
    }
}
