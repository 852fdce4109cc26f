import LogCore
import NIOCore
import NIOHTTP1

/// The client side's reader, first in the client's pipeline: it parses requests where they lie in what was read
/// (`HTTPHead.request`, `ChunkedBodyDecoder`) and passes them on as request parts, one handler where NIO's codec
/// took two and a string per header; and it counts bytes read and when the first byte of the next request arrived
/// (the start of `TR` and of `Ta`, the request's date). It is inbound only: what the session writes goes straight
/// to the socket (the session counts it). A head larger than `headLimit` is refused (414 while its request line
/// is still coming, 431 after); anything malformed ends the reading (`MalformedHTTP`: 400).
final class HTTPRequestReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTPServerRequestPart

    private enum State {
        case head
        case body(HTTPBodyReader)
        /// After an error: nothing more is read.
        case failed
    }

    private(set) var bytesIn: Int64 = 0
    /// When the first byte since `expectRequest()` arrived; nil while none has.
    private(set) var firstByte: NIODeadline?
    private(set) var firstByteDate: CivilTime?

    /// The most a request's line and headers may take (HAProxy's `tune.bufsize`).
    let headLimit: Int
    private var state = State.head
    /// The start of a head that has not all arrived, and how far it was searched for its end.
    private var partialHead: ByteBuffer?
    private var searched = 0

    init(headLimit: Int) { self.headLimit = headLimit }

    /// The session the parts go to, called directly: set by the session while it is in the pipeline right after
    /// this reader (and cleared when it leaves it). Without one (a reader alone, in tests) the parts go down the
    /// pipeline. A direct call spares each part NIO's boxing and its type check on the way out of `NIOAny`.
    var receiver: HTTPSession?

    private func deliver(_ part: HTTPServerRequestPart, _ context: ChannelHandlerContext) {
        if let receiver {
            receiver.received(part)
        } else {
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    /// The next byte read starts a new request (for its timers).
    func expectRequest() {
        firstByte = nil
        firstByteDate = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if firstByte == nil && input.readableBytes > 0 {
            firstByte = .now()
            firstByteDate = CivilTime.now()
        }
        bytesIn += Int64(input.readableBytes)
        if var held = partialHead {
            partialHead = nil
            held.writeBuffer(&input)
            input = held
        }
        do {
            try consume(&input, context)
        } catch {
            state = .failed
            partialHead = nil
            context.fireErrorCaught(error)
        }
    }

    private func consume(_ input: inout ByteBuffer, _ context: ChannelHandlerContext) throws {
        while true {
            switch state {
            case .failed:
                return
            case .head:
                if searched == 0 {
                    // Blank lines before a request line are skipped (RFC 9112 §2.2).
                    let blanks = input.readableBytesView.prefix { $0 == 0x0D || $0 == 0x0A }.count
                    input.moveReaderIndex(forwardBy: blanks)
                }
                guard input.readableBytes > 0 else { return }
                guard let length = HTTPHead.headLength(in: input, from: searched) else {
                    try checkLimit(input, headLength: nil)
                    searched = input.readableBytes
                    partialHead = input
                    return
                }
                searched = 0
                try checkLimit(input, headLength: length)
                guard let bytes = input.readSlice(length: length) else { return }
                let (head, framing) = try HTTPHead.request(bytes)
                deliver(.head(head), context)
                switch framing {
                case .none: state = .body(HTTPBodyReader(sized: 0))
                case .sized(let length): state = .body(HTTPBodyReader(sized: length))
                case .chunked: state = .body(.chunked)
                }
            case .body(var body):
                state = .head  // the reader is held outside the enum while it works (no copy of its state)
                switch try body.next(&input) {
                case .data(let data)?:
                    state = .body(body)
                    deliver(.body(data), context)
                case .end?: deliver(.end(nil), context)
                case nil:
                    state = .body(body)
                    return
                }
            }
        }
    }

    /// A head over the limit: 414 while its request line has not ended within it, 431 after.
    private func checkLimit(_ input: ByteBuffer, headLength: Int?) throws {
        let length = headLength ?? input.readableBytes
        guard length > headLimit else { return }
        let lineEnd = input.readableBytesView.prefix(headLimit + 1).firstIndex(of: 0x0A)
        throw lineEnd == nil ? HeadTooLarge.uri : HeadTooLarge.headers
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent {
            switch state {
            case .body:
                // The client's end in the middle of a body: the request cannot complete.
                state = .failed
                context.fireErrorCaught(MalformedHTTP(offset: Int(bytesIn)))
            case .head, .failed: break
            }
        }
        context.fireUserInboundEventTriggered(event)
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
    /// given, `connection: close` or `keep-alive` added for the client; `room` bytes are left free after it (for a
    /// small body). Returns the size HAProxy logs for the head (`%B` counts its internal form: 21 bytes of
    /// start-line structure, the version, status and reason text, and each header's name and value, the dropped and
    /// added ones aside; checked against HAProxy 2.6.12).
    /// `compression`: the response is compressed (HAProxy's compression filter): its `Content-Length` taken out,
    /// a strong `ETag` made weak, then `transfer-encoding: chunked` (unless it had it), `vary: Accept-Encoding` and
    /// `content-encoding` (unless `identity`) added after the server's fields; the count is the head as received.
    static func response(
        _ head: HTTPHead, allocator: ByteBufferAllocator, connection: String?, dropTransferEncoding: Bool = false,
        edits: ResponseHeaderEdits? = nil, keepVersion: Bool = false, room: Int = 0,
        compression: (encoding: String?, addChunked: Bool)? = nil
    ) -> (bytes: ByteBuffer, counted: Int64) {
        let reason = head.reason
        var counted = 21 + 8 + 3 + reason.count
        // `set-status`: another status line (HAProxy counts the server's).
        let status = edits?.status
        // The whole head in one reservation (each write to a ByteBuffer checks its capacity and ownership).
        var length = 9 + 3 + 1 + (status?.reason.count ?? reason.count) + 2 + 2
        for field in head.fields { length += field.name.count + field.value.count + 4 }
        for field in edits?.added ?? [] { length += field.name.count + field.value.count + 4 }
        // A rewritten value may be longer than the server's (reckoned field by field when there are rewrites).
        if let edits, !edits.rewrites.isEmpty {
            head.bytes.withUnsafeReadableBytes { raw in
                for field in head.fields {
                    if let value = edits.rewritten(raw, name: field.name, value: field.value) { length += value.count }
                }
            }
        }
        if let connection { length += 12 + connection.utf8.count + 2 }
        if compression != nil { length += 2 + 18 + 15 + 27 + 32 }
        var out = allocator.buffer(capacity: length + room)
        _ = head.bytes.withUnsafeReadableBytes { raw in
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { space in
                var i = 0
                space.put(keepVersion && !head.isHTTP11 ? "HTTP/1.0 " : "HTTP/1.1 ", at: &i)
                // Three digits: the parser and `set-status` take no other status.
                let code = status?.code ?? head.status
                space[i] = 0x30 &+ UInt8(truncatingIfNeeded: code / 100 % 10)
                space[i + 1] = 0x30 &+ UInt8(truncatingIfNeeded: code / 10 % 10)
                space[i + 2] = 0x30 &+ UInt8(truncatingIfNeeded: code % 10)
                space[i + 3] = 0x20
                i += 4
                if let status {
                    status.reason.withUnsafeBytes { space.put($0, at: &i) }
                } else {
                    space.put(UnsafeRawBufferPointer(rebasing: raw[reason]), at: &i)
                }
                space.putLineEnd(at: &i)
                for field in head.fields {
                    if HTTPHead.equalsLower(raw, field.name, "connection") { continue }
                    if dropTransferEncoding && HTTPHead.equalsLower(raw, field.name, "transfer-encoding") { continue }
                    if compression != nil && HTTPHead.equalsLower(raw, field.name, "content-length") {
                        counted += field.name.count + field.value.count
                        continue
                    }
                    if let edits,
                        edits.removes(raw, field.name) || edits.removesCookie(raw, name: field.name, value: field.value)
                    {
                        // HAProxy counts the head as the server sent it, before its rules.
                        counted += field.name.count + field.value.count
                        continue
                    }
                    // The name lower-cased as it is copied.
                    for offset in field.name {
                        space[i] = ASCII.lowercased(raw[offset])
                        i += 1
                    }
                    space[i] = UInt8(ascii: ":")
                    space[i + 1] = UInt8(ascii: " ")
                    i += 2
                    if compression != nil, HTTPHead.equalsLower(raw, field.name, "etag"), raw[field.value].first == 0x22 {
                        space.put("W/", at: &i)
                    }
                    if let rewritten = edits?.rewritten(raw, name: field.name, value: field.value) {
                        rewritten.withUnsafeBytes { space.put($0, at: &i) }
                    } else {
                        space.put(UnsafeRawBufferPointer(rebasing: raw[field.value]), at: &i)
                    }
                    space.putLineEnd(at: &i)
                    counted += field.name.count + field.value.count
                }
                // In the order HAProxy 2.6 writes them (checked beside it).
                if let compression {
                    if compression.addChunked {
                        space.put("transfer-encoding: chunked", at: &i)
                        space.putLineEnd(at: &i)
                    }
                    space.put("vary: Accept-Encoding", at: &i)
                    space.putLineEnd(at: &i)
                    if let encoding = compression.encoding {
                        space.put("content-encoding: ", at: &i)
                        space.put(encoding, at: &i)
                        space.putLineEnd(at: &i)
                    }
                }
                // `http-response` rules' fields, after the server's, as HAProxy appends them (not counted in %B: it
                // counts the head as received).
                for field in edits?.added ?? [] {
                    field.name.withUnsafeBytes { space.put($0, at: &i) }
                    space[i] = UInt8(ascii: ":")
                    space[i + 1] = UInt8(ascii: " ")
                    i += 2
                    field.value.withUnsafeBytes { space.put($0, at: &i) }
                    space.putLineEnd(at: &i)
                }
                if let connection {
                    space.put("connection: ", at: &i)
                    space.put(connection, at: &i)
                    space.putLineEnd(at: &i)
                }
                space.putLineEnd(at: &i)
                return i
            }
        }
        return (out, Int64(counted))
    }

    /// Writes a request's head as the proxy sends it to a server: its line, then its headers as given (the
    /// session has already shaped them), in one reservation.
    static func request(_ head: HTTPRequestHead, allocator: ByteBufferAllocator) -> ByteBuffer {
        let method = head.method.rawValue
        let version = head.version.minor >= 1 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n"
        var length = method.utf8.count + 1 + head.uri.utf8.count + 11 + 2
        for (name, value) in head.headers { length += name.utf8.count + value.utf8.count + 4 }
        var out = allocator.buffer(capacity: length)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { space in
            var i = 0
            space.put(method, at: &i)
            space[i] = 0x20
            i += 1
            space.put(head.uri, at: &i)
            space.put(version, at: &i)
            for (name, value) in head.headers {
                space.put(name, at: &i)
                space[i] = UInt8(ascii: ":")
                space[i + 1] = UInt8(ascii: " ")
                i += 2
                space.put(value, at: &i)
                space.putLineEnd(at: &i)
            }
            space.putLineEnd(at: &i)
            return i
        }
        return out
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Copies `bytes` at `offset` and moves `offset` past them (the space was reserved for them).
    @inline(__always)
    func put(_ bytes: UnsafeRawBufferPointer, at offset: inout Int) {
        UnsafeMutableRawBufferPointer(rebasing: self[offset..<(offset + bytes.count)]).copyMemory(from: bytes)
        offset += bytes.count
    }

    /// Copies `text`'s UTF-8 at `offset` and moves `offset` past it.
    @inline(__always)
    func put(_ text: String, at offset: inout Int) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { put(UnsafeRawBufferPointer($0), at: &offset) }
        if copied == nil {
            for byte in text.utf8 {
                self[offset] = byte
                offset += 1
            }
        }
    }

    /// Writes CR LF at `offset` and moves `offset` past them.
    @inline(__always)
    func putLineEnd(at offset: inout Int) {
        self[offset] = 0x0D
        self[offset + 1] = 0x0A
        offset += 2
    }
}

extension HTTPHeaders {
    /// Whether a comma-separated header (`Connection`, `Transfer-Encoding`) holds `token` (lower case),
    /// case-insensitively, without building strings (the same list reading as a response head's).
    func hasToken(_ token: StaticString, in name: String) -> Bool {
        contains { HTTPHeaders.equalsIgnoringCase($0.name, name) && HTTPHead.list($0.value.utf8, holds: token) }
    }

    /// ASCII case-insensitive equality, `b` in lower case.
    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { ($0 | 0x20) == $1 }
    }
}
