import NIOCore
import NIOPosix

/// A loopback TCP server that sends back what it reads and closes when the client has finished (the tests' and
/// the demo's backend).
public final class EchoBackend: Sendable {
    public let port: Int
    private let channel: any Channel

    /// On `port` of `host` (127.0.0.1 unless another loopback address is wanted; port 0: one the system chooses).
    public init(host: String = "127.0.0.1", port requested: Int = 0) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .bind(host: host, port: requested).get()
        port = channel.localAddress?.port ?? 0
    }

    public func close() async throws { try await channel.close() }

    private final class Echo: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.write(data, promise: nil)
        }
        func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent {
                let channel = context.channel
                context.writeAndFlush(NIOAny(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                    channel.close(promise: nil)
                }
            }
        }
    }
}
