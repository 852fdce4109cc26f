// The barest SwiftNIO TCP proxy: accept, connect to one of two backends in turn, relay both ways with
// back-pressure and half-close (NIO's GlueHandler example, as a proxy must run it). No logging, no timeouts, no
// counters, no configuration: a floor under what any proxy built on NIO's channels pays per connection.
// Usage: nio-floor LISTEN_PORT BACKEND_PORT_1 BACKEND_PORT_2 (all on 127.0.0.1), one event loop.
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

final class Glue: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var partner: Glue?
    var context: ChannelHandlerContext?
    var pendingRead = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { partner?.context?.write(data, promise: nil) }
    func channelReadComplete(context: ChannelHandlerContext) { partner?.context?.flush() }
    func channelInactive(context: ChannelHandlerContext) { partner?.context?.close(promise: nil) }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent {
            partner?.context?.close(mode: .output, promise: nil)
        }
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? false { context.read() } else { pendingRead = true }
    }
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let partner, partner.pendingRead {
            partner.pendingRead = false
            partner.context?.read()
        }
    }
}

/// Connects the other side once the client's channel is active.
final class Starter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let front: Glue
    let target: SocketAddress
    init(front: Glue, target: SocketAddress) {
        self.front = front
        self.target = target
    }
    func channelActive(context: ChannelHandlerContext) {
        let front = self.front
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                let back = Glue()
                back.partner = front
                front.partner = back
                return channel.pipeline.addHandler(back)
            }
            .connect(to: target)
            .whenComplete { result in
                switch result {
                case .success: front.context?.read()
                case .failure: front.context?.close(promise: nil)
                }
            }
        context.fireChannelActive()
    }
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
guard arguments.count == 3 else {
    print("usage: nio-floor LISTEN_PORT BACKEND_PORT_1 BACKEND_PORT_2")
    exit(2)
}
signal(SIGTERM) { _ in exit(0) }
let backends = try [arguments[1], arguments[2]].map { try SocketAddress(ipAddress: "127.0.0.1", port: $0) }
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
nonisolated(unsafe) var accepted = 0
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.allowRemoteHalfClosure, value: true)
    .childChannelInitializer { channel in
        accepted += 1  // the one event loop runs every initializer
        let front = Glue()
        return channel.pipeline.addHandlers([front, Starter(front: front, target: backends[accepted % 2])])
    }
    .bind(host: "127.0.0.1", port: arguments[0]).wait()
try server.closeFuture.wait()
