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
        let channel = context.channel
        Self.start(session, on: NIOSessionLoop(loop: context.eventLoop)) {
            try? channel.syncOptions?.setOption(.autoRead, value: false)
        }
    }

    /// Starts `session` on `loop` (its own): `rate-limit sessions`, then maxconn, then the session. Over the rate
    /// or the limit, `holdReads` stops reading the client until the session may start.
    static func start<Loop: SessionLoop>(_ session: any ClientSession, on loop: Loop, holdReads: () -> Void) {
        // `rate-limit sessions`: over the rate, nothing is read until the window lets the session through.
        if let rate = session.sessionRate, !rate.tryTake() {
            holdReads()
            let bound = LoopBound(session, loop: loop)
            rate.admit {
                loop.runNowOrSoon { admit(bound.value, on: loop, held: true) }
            }
            return
        }
        admit(session, on: loop, held: false)
    }

    /// maxconn, then the session; `held`: its reads were paused (and its accept date is now).
    private static func admit<Loop: SessionLoop>(_ session: any ClientSession, on loop: Loop, held: Bool) {
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

extension SocketAddress {
    /// A UNIX socket's (a server or listener on a local socket): no TCP option applies to it.
    var isLocal: Bool {
        if case .unixDomainSocket = self { return true }
        return false
    }

    /// How the proxy names a listener's address in its notices: `IP:PORT`, `unix@PATH`, `abns@NAME`.
    public var listenerDescription: String {
        guard case .unixDomainSocket(let local) = self else { return "\(ipAddress ?? "?"):\(port ?? 0)" }
        return ListenerHandoff.localName(local.address, length: MemoryLayout<sockaddr_un>.size) ?? "unix@?"
    }
}
