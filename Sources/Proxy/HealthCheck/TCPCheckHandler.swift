import NIOCore

/// Runs a `TCPCheckRun` on a check connection: what the run asks to send is sent, what arrives and the
/// connection's end are given to it, and its verdict completes `result` (the connection is then closed).
final class TCPCheckHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var run: TCPCheckRun
    private let result: EventLoopPromise<TCPCheckRun.Verdict>
    private var done = false

    init(_ run: TCPCheckRun, result: EventLoopPromise<TCPCheckRun.Verdict>) {
        self.run = run
        self.result = result
    }

    func channelActive(context: ChannelHandlerContext) {
        perform(run.connectionOpened(), context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var buffer = unwrapInboundIn(data)
        perform(run.received(buffer.readBytes(length: buffer.readableBytes) ?? []), context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done { perform(run.connectionClosed(), context) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The check's time ran out (called on the channel's loop).
    func timedOut(_ context: ChannelHandlerContext) {
        // Before the connection is made, the connect's own timeout answers.
        guard !done, context.channel.isActive else { return }
        finish(run.timedOut(), context)
    }

    private func perform(_ actions: [TCPCheckRun.Action], _ context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let bytes):
                var buffer = context.channel.allocator.buffer(capacity: bytes.count)
                buffer.writeBytes(bytes)
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            case .wait:
                break
            case .connect:
                // A second connection in one check is refused when the configuration is read.
                finish(.init(status: .l4connection, code: nil, info: "a second connect is not carried out"), context)
            case .done(let verdict):
                finish(verdict, context)
            }
        }
    }

    private func finish(_ verdict: TCPCheckRun.Verdict, _ context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        result.succeed(verdict)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TCPCheckHandler: Sendable {}
