import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// One connection to a server in HTTP mode, last in its pipeline (after NIO's request encoder and response
/// decoder). While an exchange owns it, responses go to that exchange's session and reads go on only while the
/// client can take more; idle in its backend's pool, anything the server sends (or its close) ends it.
final class HTTPServerConnection: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// The session whose exchange uses this connection now; nil while idle in the pool.
    var owner: HTTPSession?
    let server: Int
    private(set) var context: ChannelHandlerContext?
    private var readPending = false
    private var sawError = false
    private(set) var closed = false
    /// Set while the connection is idle in a pool, to take it out when it closes.
    var onIdleClose: (() -> Void)?

    init(server: Int) { self.server = server }

    var channel: (any Channel)? { context?.channel }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard let owner else {
            // A pooled connection has nothing to say: the server broke the protocol or is closing.
            context.close(promise: nil)
            return
        }
        owner.serverSent(part, on: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) { owner?.flushToClient() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { owner?.serverWritable() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        sawError = true
        if error is HTTPParserError { sawInvalidResponse = true }
        context.close(promise: nil)
    }

    /// The server sent something that is not an HTTP response (HAProxy's `PH`).
    private(set) var sawInvalidResponse = false

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        let idleClose = onIdleClose
        onIdleClose = nil
        idleClose?()
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

    func send(_ part: HTTPClientRequestPart, flush: Bool) {
        guard let context else { return }
        context.write(wrapOutboundOut(part), promise: nil)
        if flush { context.flush() }
    }

    func flush() { context?.flush() }

    func close() { context?.close(promise: nil) }
}

/// The idle server connections of a backend, per event loop and server (HAProxy's `http-reuse safe`: a session
/// takes a connection that another session on the same thread left open). A connection is taken and given back
/// only on the event loop of its key, so the pool's entries are never used on two threads.
final class HTTPServerPool: Sendable {
    private struct Key: Hashable {
        let loop: ObjectIdentifier
        let server: Int
    }
    /// An idle connection, touched only on its key's event loop (see above).
    private struct Entry: @unchecked Sendable {
        let connection: HTTPServerConnection
    }
    private let idle = NIOLockedValueBox<[Key: [Entry]]>([:])
    /// Idle connections kept per event loop and server; more are closed.
    static let limit = 64

    /// An open idle connection to server `server` made on `loop`, if there is one.
    func take(server: Int, on loop: any EventLoop) -> HTTPServerConnection? {
        let key = Key(loop: ObjectIdentifier(loop), server: server)
        while let entry = idle.withLockedValue({ $0[key]?.popLast() }) {
            let connection = entry.connection
            connection.onIdleClose = nil
            if !connection.closed, connection.channel?.isActive == true { return connection }
        }
        return nil
    }

    /// Keeps `connection` for a later request (or closes it when the pool is full).
    func give(_ connection: HTTPServerConnection, on loop: any EventLoop) {
        let key = Key(loop: ObjectIdentifier(loop), server: connection.server)
        let kept = idle.withLockedValue { pool -> Bool in
            guard (pool[key]?.count ?? 0) < HTTPServerPool.limit else { return false }
            pool[key, default: []].append(Entry(connection: connection))
            return true
        }
        guard kept else { return connection.close() }
        connection.onIdleClose = { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.idle.withLockedValue { pool in
                pool[key]?.removeAll { $0.connection === connection }
            }
        }
        // Idle: a read is asked for so that a close by the server is seen.
        connection.resumeReading()
    }
}
