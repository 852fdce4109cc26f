import NIOCore
import NIOPosix

/// Started once the accepted channel is active and maxconn admits it.
protocol ClientSession: AnyObject {
    var limits: [ProxyRuntime.ConnectionLimit] { get }
    /// The frontend's `rate-limit sessions` (nil: none).
    var sessionRate: ProxyRuntime.SessionRate? { get }
    func begin()
    func admit(paused: Bool)
    /// The client's and the frontend's addresses a PROXY protocol header gave (`accept-proxy`), before the session
    /// starts; nil: the connection's own.
    func useProxyAddresses(source: SocketAddress?, destination: SocketAddress?)
}

/// Starts a session when its client's channel becomes active, then steps aside.
final class SessionStarter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let session: any ClientSession
    init(_ session: any ClientSession) { self.session = session }
    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        // `rate-limit sessions`: over the rate, nothing is read until the window lets the session through.
        if let rate = session.sessionRate, !rate.tryTake() {
            try? context.channel.syncOptions?.setOption(.autoRead, value: false)
            let loop = NIOSessionLoop(loop: context.eventLoop)
            let bound = LoopBound(session, loop: loop)
            rate.admit {
                loop.runNowOrSoon { Self.start(bound.value, on: loop, held: true) }
            }
            return
        }
        Self.start(session, on: NIOSessionLoop(loop: context.eventLoop), held: false)
    }

    /// maxconn, then the session; `held`: its reads were paused (and its accept date is now).
    private static func start(_ session: any ClientSession, on loop: NIOSessionLoop, held: Bool) {
        let limits = session.limits
        guard !limits.isEmpty || held else { return session.begin() }
        if ProxyRuntime.ConnectionLimit.tryTake(limits) { return session.admit(paused: held) }
        // Under maxconn: nothing is read until the session may start.
        let bound = LoopBound(session, loop: loop)
        ProxyRuntime.ConnectionLimit.admit(limits[...]) {
            loop.runNowOrSoon { bound.value.admit(paused: true) }
        }
    }
}

/// A connection refused by a `tcp-request connection` rule: closed as soon as it is active, nothing read.
final class ClosedOnArrival: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    func channelActive(context: ChannelHandlerContext) { context.close(promise: nil) }
}

extension ServerBootstrap {
    /// A server channel option set only when `condition` holds.
    func serverChannelOption<Option: ChannelOption>(_ option: Option, value: Option.Value, when condition: Bool)
        -> Self
    {
        condition ? serverChannelOption(option, value: value) : self
    }

    /// A child channel option set only when `condition` holds.
    func childChannelOption<Option: ChannelOption>(_ option: Option, value: Option.Value, when condition: Bool) -> Self
    {
        condition ? childChannelOption(option, value: value) : self
    }
}

extension ClientBootstrap {
    /// A channel option set only when `condition` holds.
    func channelOption<Option: ChannelOption>(_ option: Option, value: Option.Value, when condition: Bool) -> Self {
        condition ? channelOption(option, value: value) : self
    }
}
