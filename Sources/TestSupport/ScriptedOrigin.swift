import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// An HTTP/1 origin on 127.0.0.1 that answers each request with bytes a test chose for its path, written in the
/// given pieces 20 ms apart (so that a reader sees them in separate reads). A piece `<close>` closes the connection.
/// It counts the connections it accepted and the requests it read.
public final class ScriptedOrigin: Sendable {
    public let port: Int
    private let channel: any Channel
    private let counts = NIOLockedValueBox((connections: 0, requests: 0))
    public static let close = "<close>"

    public var connections: Int { counts.withLockedValue { $0.connections } }
    public var requests: Int { counts.withLockedValue { $0.requests } }

    /// `script` gives the pieces of the answer to a request for a path.
    public init(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        script: @escaping @Sendable (_ path: String) -> [String]
    ) async throws {
        let counts = self.counts
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counts.withLockedValue { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(script: script, counts: counts))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    public func close() async throws { try await channel.close() }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let script: @Sendable (String) -> [String]
        let counts: NIOLockedValueBox<(connections: Int, requests: Int)>
        var received: [UInt8] = []

        init(
            script: @escaping @Sendable (String) -> [String],
            counts: NIOLockedValueBox<(connections: Int, requests: Int)>
        ) {
            self.script = script
            self.counts = counts
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += unwrapInboundIn(data).readableBytesView
            // Requests without bodies only: each ends with its blank line.
            while let end = headEnd() {
                let head = String(decoding: received[..<end], as: UTF8.self)
                received.removeFirst(end)
                counts.withLockedValue { $0.requests += 1 }
                let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
                answer(script(path), context: context)
            }
        }

        private func headEnd() -> Int? {
            guard received.count >= 4 else { return nil }
            for i in 0...(received.count - 4) where received[i..<(i + 4)].elementsEqual("\r\n\r\n".utf8) {
                return i + 4
            }
            return nil
        }

        private func answer(_ pieces: [String], context: ChannelHandlerContext) {
            let loop = context.eventLoop.assumeIsolated()
            for (index, piece) in pieces.enumerated() {
                loop.scheduleTask(in: .milliseconds(Int64(20 * index))) {
                    if piece == ScriptedOrigin.close {
                        context.close(promise: nil)
                    } else {
                        context.writeAndFlush(NIOAny(ByteBuffer(string: piece)), promise: nil)
                    }
                }
            }
        }
    }
}
