import HAProxyLog
import LogCore
import NIOCore

/// `bind … accept-proxy`: the connection's first bytes must be a PROXY protocol header (`ProxyProtocol`); the
/// session (and a TLS handshake after it) starts only once it is read, with the client's and the frontend's
/// addresses it gives. As HAProxy: the first read must hold the whole header; a connection that sends something
/// else, or closes, or says nothing within `timeout client`, is closed and logged as HAProxy logs it
/// (`CLIENT:PORT [DATE] FRONTEND/LISTENER: Received something which does not look like a PROXY protocol header`).
/// The bytes that came after the header are handed on once the session has started.
final class ProxyProtocolReceiver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private enum State {
        case waiting
        case passing(leftover: ByteBuffer?)
        case failed
    }

    private var state = State.waiting
    private let session: any ClientSession
    private let frontend: ProxyRuntime.Frontend
    private let listener: String
    private var timer: Scheduled<Void>?
    private let accepted = CivilTime.now()

    init(session: any ClientSession, frontend: ProxyRuntime.Frontend, listener: String) {
        self.session = session
        self.frontend = frontend
        self.listener = listener
    }

    func channelActive(context: ChannelHandlerContext) {
        // Held back: the session starts once the header is read.
        let channel = context.channel
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(in: frontend.clientTimeout ?? .seconds(5)) { [self] in
            guard case .waiting = state else { return }
            fail(.timeout, channel: channel)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .passing:
            context.fireChannelRead(data)
        case .failed:
            break
        case .waiting:
            var buffer = unwrapInboundIn(data)
            switch ProxyProtocol.parse(Array(buffer.readableBytesView)) {
            case .failure(let problem):
                fail(problem, channel: context.channel)
            case .success(let header):
                timer?.cancel()
                buffer.moveReaderIndex(forwardBy: header.length)
                state = .passing(leftover: buffer.readableBytes > 0 ? buffer : nil)
                session.useProxyAddresses(source: header.source, destination: header.destination)
                context.fireChannelActive()
                // A session that started at once has its handlers now: the rest goes to them. One that waits for
                // maxconn (reads paused) gets it at its first read.
                if (try? context.channel.syncOptions?.getOption(.autoRead)) == true { deliverLeftover(context) }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .passing = state { context.fireChannelReadComplete() }
    }

    /// A client that shuts its side before sending the header (the listeners allow half-closed connections):
    /// closed, as HAProxy.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .waiting = state, let event = event as? ChannelEvent, event == .inputClosed {
            return fail(.closed, channel: context.channel)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .waiting = state { fail(.closed, channel: context.channel) }
        timer?.cancel()
        context.fireChannelInactive()
    }

    /// A session held back by maxconn gets the bytes that came with the header at its first read.
    func read(context: ChannelHandlerContext) {
        deliverLeftover(context)
        context.read()
    }

    private func deliverLeftover(_ context: ChannelHandlerContext) {
        guard case .passing(let leftover?) = state else { return }
        state = .passing(leftover: nil)
        context.fireChannelRead(wrapInboundOut(leftover))
        context.fireChannelReadComplete()
    }

    private func fail(_ problem: ProxyProtocol.Problem, channel: any Channel) {
        state = .failed
        timer?.cancel()
        frontend.logConnectionError(
            client: channel.remoteAddress, at: accepted, listener: listener, reason: problem.rawValue,
            empty: problem == .closed)
        channel.close(promise: nil)
    }
}

@available(*, unavailable)
extension ProxyProtocolReceiver: Sendable {}
