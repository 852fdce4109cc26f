import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A server on 127.0.0.1 that keeps the bytes of each HTTP request it reads (the head and a body of its
/// `content-length`), answers each with `reply` and closes: what a health check sends, to compare byte for byte.
public final class RequestRecorder: Sendable {
    public let port: Int
    private let channel: any Channel
    private let recorded = NIOLockedValueBox<[[UInt8]]>([])

    /// The requests read so far, in order.
    public var requests: [[UInt8]] { recorded.withLockedValue { $0 } }

    public init(
        reply: String = "HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\npong",
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws {
        let recorded = self.recorded
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Recorder(reply: reply, recorded: recorded))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    public func close() async throws { try await channel.close() }

    private final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: String
        let recorded: NIOLockedValueBox<[[UInt8]]>
        var received: [UInt8] = []

        init(reply: String, recorded: NIOLockedValueBox<[[UInt8]]>) {
            self.reply = reply
            self.recorded = recorded
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += unwrapInboundIn(data).readableBytesView
            let blank: [UInt8] = [13, 10, 13, 10]
            guard received.count >= 4,
                let end = (0...(received.count - 4)).first(where: { Array(received[$0..<$0 + 4]) == blank })
            else { return }
            let head = String(decoding: received[..<end], as: UTF8.self).lowercased()
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            guard received.count >= end + 4 + length else { return }
            recorded.withLockedValue { $0.append(received) }
            received = []
            let channel = context.channel
            channel.writeAndFlush(ByteBuffer(string: reply)).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
