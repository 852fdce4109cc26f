import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Synchronization

/// One connection to a server in HTTP mode, alone in its pipeline: it writes requests as bytes and reads responses
/// in place (`HTTPHead`, `ChunkedBodyDecoder`), with no string made per header and no codec handlers between the
/// socket and the session. While an exchange owns it, responses go to that exchange's session and reads go on only
/// while the client can take more; idle in its backend's pool, anything the server sends (or its close) ends it.
final class HTTPServerConnection: ChannelDuplexHandler, BatchFlushing {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where the response being read is.
    private enum Reading {
        case head
        case body(HTTPBodyReader)
    }

    /// The session whose exchange uses this connection now; nil while idle in the pool.
    var owner: HTTPSession?
    let server: Int
    private(set) var context: ChannelHandlerContext?
    private var readPending = false
    private var sawError = false
    private(set) var closed = false
    /// Set while the connection is idle in a pool, to take it out when it closes.
    fileprivate var idleIn: (pool: HTTPServerPool, loop: ObjectIdentifier)?
    private var reading = Reading.head
    /// The start of a response head that has not all arrived, and how far it was searched for its end.
    private var partialHead: ByteBuffer?
    private var searched = 0
    /// The request sent is `HEAD` (its response has no body).
    private var headRequest = false
    /// The request's body goes in chunks (it came so: the client's decoder took the framing off).
    private var chunkedRequest = false
    /// False once the server sent more than the response asked for: the connection is not used again.
    private(set) var reusable = true

    /// The SNI its TLS handshake sent (a `sni req.hdr(host)` differs by request): a pooled connection serves only
    /// requests that would send the same.
    let sni: String?

    init(server: Int, sni: String? = nil) {
        self.server = server
        self.sni = sni
    }

    var channel: (any Channel)? { context?.channel }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    /// Its requests are flushed at the end of the event loop's batch (see `FlushBatch`).
    private var batch: FlushBatch?
    var flushQueued = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        batch = FlushBatch.current(on: context.eventLoop)
    }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: Responses

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        guard owner != nil else {
            // A pooled connection has nothing to say: the server broke the protocol or is closing.
            reusable = false
            context.close(promise: nil)
            return
        }
        if var held = partialHead {
            partialHead = nil
            held.writeBuffer(&input)
            input = held
        }
        do {
            try consume(&input)
        } catch {
            sawInvalidResponse = true
            sawError = true
            reusable = false
            context.close(promise: nil)
        }
    }

    private func consume(_ input: inout ByteBuffer) throws {
        while true {
            guard let owner else {
                if input.readableBytes > 0 {
                    // Bytes after the end of a response, with no request sent for them.
                    reusable = false
                    context?.close(promise: nil)
                }
                return
            }
            switch reading {
            case .head:
                guard input.readableBytes > 0 else { return }
                guard let length = HTTPHead.headLength(in: input, from: searched) else {
                    guard input.readableBytes <= ProxyRuntime.bufferSize else {
                        throw MalformedHTTP(offset: input.readableBytes)
                    }
                    searched = input.readableBytes
                    partialHead = input
                    return
                }
                searched = 0
                guard length <= ProxyRuntime.bufferSize, let bytes = input.readSlice(length: length) else {
                    throw MalformedHTTP(offset: length)
                }
                let head = try HTTPHead.response(bytes, headRequest: headRequest)
                if head.status < 200 {
                    // An interim response (`100 Continue`, `103 Early Hints`) is not passed on; a protocol switch
                    // was never asked for.
                    guard head.status != 101 else { throw MalformedHTTP(offset: 0) }
                    continue
                }
                switch head.framing {
                case .none:
                    reading = .body(HTTPBodyReader(sized: 0))
                    bodyWithHead = 0
                case .sized(let length):
                    reading = .body(HTTPBodyReader(sized: length))
                    bodyWithHead = min(length, input.readableBytes)
                case .chunked:
                    reading = .body(.chunked)
                    bodyWithHead = input.readableBytes
                case .untilClose:
                    reading = .body(.untilClose)
                    bodyWithHead = input.readableBytes
                }
                owner.serverHead(head, on: self)
            case .body(var body):
                reading = .head  // the reader is held outside the enum while it works (no copy of its state)
                switch try body.next(&input) {
                case .data(let data)?:
                    reading = .body(body)
                    owner.serverBody(data, on: self)
                case .end?: ended(owner, leftover: input.readableBytes)
                case nil:
                    reading = .body(body)
                    return
                }
            }
        }
    }

    /// The response is complete; more bytes already here mean a server that cannot be trusted with another request.
    private func ended(_ owner: HTTPSession, leftover: Int) {
        if leftover > 0 { reusable = false }
        owner.serverEnd(on: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) { owner?.flushToClient() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { owner?.serverWritable() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        sawError = true
        context.close(promise: nil)
    }

    /// How much of the body had come with the response's head, as it is passed to `serverHead` (the bytes HAProxy
    /// has received of a response that a rule then drops; a chunked body's counted with its framing).
    private(set) var bodyWithHead = 0

    /// The server sent something that is not an HTTP response (HAProxy's `PH`).
    private(set) var sawInvalidResponse = false

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        if let (pool, loop) = idleIn {
            idleIn = nil
            pool.remove(self, loop: loop)
        }
        if case .body(let body) = reading, body.endsWithTheClose, let owner {
            // The close is the end of a response without a length.
            reading = .head
            owner.serverEnd(on: self)
        }
        let owner = self.owner
        self.owner = nil
        owner?.serverClosed(self, error: sawError)
        context.fireChannelInactive()
    }

    /// Reads go through only while the client side can take what they bring (or while idle, to notice a close).
    func read(context: ChannelHandlerContext) {
        if owner?.clientCanTakeMore ?? true {
            context.read()
        } else {
            readPending = true
        }
    }

    func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    // MARK: Requests

    /// Writes bytes as they are (a PROXY protocol header, before the first request).
    func sendRaw(_ bytes: [UInt8]) {
        guard let context else { return }
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    /// Writes a request's head: its line and its headers as given (the session has already shaped them).
    func sendHead(_ head: HTTPRequestHead) {
        guard let context else { return }
        headRequest = head.method == .HEAD
        chunkedRequest = head.headers.hasToken("chunked", in: "transfer-encoding")
        context.write(wrapOutboundOut(HTTPHeadWriter.request(head, allocator: context.channel.allocator)), promise: nil)
    }

    /// Writes part of the request's body (framed as a chunk when the request is chunked).
    func sendBody(_ body: ByteBuffer) {
        guard let context, body.readableBytes > 0 else { return }
        if chunkedRequest {
            ChunkFraming.write(body, on: context)
        } else {
            context.write(wrapOutboundOut(body), promise: nil)
        }
    }

    /// The request is complete (a chunked one gets its last chunk).
    func sendEnd() {
        guard let context else { return }
        if chunkedRequest { context.write(NIOAny(ChunkFraming.lastChunk), promise: nil) }
    }

    /// Flushes what was written, at the end of the event loop's batch.
    func flush() { batch?.flush(self) }

    func flushNow() { context?.flush() }

    func close() { context?.close(promise: nil) }
}

/// The idle server connections of a backend, per event loop and server (HAProxy's `http-reuse safe`: a session
/// takes a connection that another session on the same thread left open). A connection is taken and given back
/// only on the event loop of its key, so the pool's entries are never used on two threads.
final class HTTPServerPool: Sendable {
    private struct Key: Hashable {
        let loop: ObjectIdentifier
        let server: Int
        let sni: String?
    }
    /// The idle connections of one key, touched only on its key's event loop (see above). A class, so that taking
    /// one is a dictionary read and an in-place change (a dictionary's in-place modify allocates its coroutine's
    /// frame on each call).
    private final class Idle: @unchecked Sendable {
        var connections: [HTTPServerConnection] = []
    }
    private let idle = Mutex<[Key: Idle]>([:])
    /// Idle connections kept per event loop and server; more are closed.
    static let limit = 64

    /// An open idle connection to server `server` made on `loop` (with this TLS SNI), if there is one.
    func take(server: Int, sni: String? = nil, on loop: any EventLoop) -> HTTPServerConnection? {
        let key = Key(loop: ObjectIdentifier(loop), server: server, sni: sni)
        while let connection = idle.withLock({ $0[key]?.connections.popLast() }) {
            connection.idleIn = nil
            if !connection.closed, connection.channel?.isActive == true { return connection }
        }
        return nil
    }

    /// Takes a connection that closed while idle out of the pool.
    fileprivate func remove(_ connection: HTTPServerConnection, loop: ObjectIdentifier) {
        let key = Key(loop: loop, server: connection.server, sni: connection.sni)
        idle.withLock { pool in pool[key]?.connections.removeAll { $0 === connection } }
    }

    /// Closes the idle connections to server `server` (its address changed: they lead to the old one).
    func closeIdle(server: Int) {
        let gone = idle.withLock { pool -> [HTTPServerConnection] in
            var out: [HTTPServerConnection] = []
            for (key, slot) in pool where key.server == server {
                out += slot.connections
                slot.connections.removeAll()
            }
            return out
        }
        for connection in gone { connection.channel?.close(promise: nil) }
    }

    /// Keeps `connection` for a later request (or closes it when the pool is full).
    func give(_ connection: HTTPServerConnection, on loop: any EventLoop) {
        let key = Key(loop: ObjectIdentifier(loop), server: connection.server, sni: connection.sni)
        let kept = idle.withLock { pool -> Bool in
            let slot: Idle
            if let existing = pool[key] {
                slot = existing
            } else {
                slot = Idle()
                pool[key] = slot
            }
            guard slot.connections.count < HTTPServerPool.limit else { return false }
            slot.connections.append(connection)
            return true
        }
        guard kept else { return connection.close() }
        // No closure with weak references here: a weak reference gives the connection a side table, and each of its
        // retains the slow path, for as long as it lives.
        connection.idleIn = (self, key.loop)
        // Idle: a read is asked for so that a close by the server is seen.
        connection.resumeReading()
    }
}
