import NIOCore
import NIOPosix

/// A loopback TCP server that answers every line it reads (up to a line feed) with the same bytes and keeps the
/// connection open, even once the client has shut its side: a stand-in for a line protocol's server (Redis'
/// `+PONG`, an error line) in health-check tests, and a server that never closes first.
public final class LineResponder: Sendable {
    public let port: Int
    private let channel: any Channel

    public init(reply: String) async throws {
        let bytes = Array(reply.utf8)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // A client's end of input leaves this side open (a server that never closes first).
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(reply: bytes))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    public func close() async throws { try await channel.close() }

    private final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: [UInt8]
        init(reply: [UInt8]) { self.reply = reply }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            let lines = buffer.readableBytesView.filter { $0 == 0x0A }.count
            for _ in 0..<lines {
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
            }
        }
    }
}
