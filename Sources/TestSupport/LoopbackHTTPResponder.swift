import NIOCore
import NIOPosix

/// A tiny HTTP/1.x origin on 127.0.0.1: reads a request head, answers with a fixed response and closes.
/// Also serves as a TCP peer: whatever arrives, the same bytes go back once the head is complete.
public final class LoopbackHTTPResponder: Sendable {
    public let port: Int
    private let channel: any Channel
    public static let body = "<html><body>tollgate</body></html>\n"

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    public func close() async throws {
        try await channel.close()
    }

    private final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            // One read holds the whole small request in these tests; answer at its end.
            guard buffer.readableBytesView.contains(0x0A) else { return }
            let body = LoopbackHTTPResponder.body
            let response =
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n\(body)"
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}
